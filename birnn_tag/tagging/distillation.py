"""Knowledge distillation (``training.teacher``): a trained tagger's calibrated marginals become
soft targets for the run being trained, on its training sentences and on unlabelled text
(``training.teacher_text``).

Each token's target is a distribution over the student's labels: ``teacher_weight`` times the
teacher's marginal plus the rest on the gold tag (a missing or unlabelled tag: all on the
teacher's). The heads' :meth:`soft_loss` is the expected sentence negative log-likelihood under
those targets, which for one-hot targets is exactly the gold loss; so a weight of 0 trains as
without a teacher.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from birnn_tag.config import Config
from birnn_tag.data.batching import iterate_batches
from birnn_tag.data.document_context import piece_contexts
from birnn_tag.data.pieces import piece_bounds
from birnn_tag.data.reading.conll import decode_lines
from birnn_tag.data.reading.tokenize import Tokenizer, tokenizer_for
from birnn_tag.data.encoding import MISSING_ID, TokenEncoder, encode_in_chunks
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError, ConfigError
from birnn_tag.nn.modes import evaluating
from birnn_tag.runs.checkpoint import LoadedModel, load_checkpoint
from birnn_tag.tagging.network.tagger import Tagger
from birnn_tag.tagging.prediction.documents import document_text, input_document
from birnn_tag.tagging.prediction.streaming import read_inputs

#: Pieces the teacher tags per batch.
TEACHER_BATCH = 256
#: How a tagging run's network is built from its saved config, vocabularies and run folder.
BuildTagger = Callable[[Config, Vocabularies, Path], Tagger]


def load_teacher(config: Config, vocabs: Vocabularies, build: BuildTagger) -> LoadedModel:
    """The run ``training.teacher`` names, built by ``build`` and checked against the student: a
    tagger in the same scheme, whose labels the student has (the student's come from its
    training data)."""
    where = f"training.teacher: {config.training.teacher}"

    def tagger(saved: Config, saved_vocabs: Vocabularies, folder: Path) -> Tagger:
        if saved.task != "tagging":
            raise ConfigError(f"{where}: a {saved.task} run cannot teach a tagger")
        return build(saved, saved_vocabs, folder)

    try:
        teacher = load_checkpoint(config.training.teacher, tagger)
    except ConfigError:
        raise
    except BirnnTagError as error:
        raise ConfigError(f"training.teacher: {error}") from None
    if teacher.config.data.scheme != config.data.scheme:
        raise ConfigError(f"{where}: its tags are {teacher.config.data.scheme}, this run's {config.data.scheme}; set data.scheme to match")
    unknown = [label for label in teacher.vocabs.labels.items if label not in vocabs.labels.items]
    if unknown:
        raise ConfigError(f"{where}: labels this run's training data lacks: {', '.join(unknown)}")
    return teacher


@torch.inference_mode()
def teacher_marginals(
    teacher: LoadedModel,
    texts: Sequence[Sequence[str]],
    documents: Sequence[Hashable | None] | None,
    pieces: Sequence[tuple[int, int, int]],
    labels: Sequence[str],
) -> list[torch.Tensor]:
    """The teacher's marginals (tokens, len(labels)) of each piece ``(row, start, end)`` of
    ``texts`` at its calibrated temperature, in the columns of ``labels``; a teacher with
    document context reads each piece with its neighbours in ``documents``."""
    model: Tagger = teacher.model
    size = teacher.config.model.document_context
    contexts = piece_contexts(texts, documents, pieces, size) if size else None
    tokens = [list(texts[row][start:end]) for row, start, end in pieces]
    encoded = encode_in_chunks(TokenEncoder(teacher.vocabs, teacher.config.encoding), tokens, contexts=contexts)
    split = model.with_context(Split(encoded))
    columns = torch.tensor([labels.index(label) for label in teacher.vocabs.labels.items])
    marginals: list[torch.Tensor] = [torch.empty(0)] * len(pieces)
    with evaluating(model):
        for batch in iterate_batches(split.sentences, TEACHER_BATCH):
            probabilities = model.head.calibrated_marginals(model.head(model.features(batch).float()), batch.mask)
            for row, (index, length) in enumerate(zip(batch.indices, batch.lengths.tolist())):
                target = torch.zeros(length, len(labels))
                target[:, columns] = probabilities[row, :length]
                marginals[index] = target
    return marginals


def soft_targets(marginals: Sequence[torch.Tensor], tag_ids: Sequence[torch.Tensor] | None, weight: float) -> list[torch.Tensor]:
    """Each piece's targets: ``weight`` × the teacher's marginals + (1 − ``weight``) × its gold
    tags (all the teacher's where a tag is missing, and without ``tag_ids``)."""
    targets = []
    for row, teacher in enumerate(marginals):
        if tag_ids is None:
            targets.append(teacher)
            continue
        gold = tag_ids[row]
        known = gold != MISSING_ID
        mixed = teacher.clone()
        mixed[known] = weight * teacher[known] + (1 - weight) * torch.nn.functional.one_hot(gold[known], teacher.shape[1]).float()
        targets.append(mixed)
    return targets


def teacher_text(config: Config, paths: Sequence[str]) -> tuple[list[list[str]], list[Hashable | None]]:
    """The sentences of ``training.teacher_text``'s files and the document each is part of, read
    as ``predict`` reads them (the run's tokenizer and ``data.encoding``): CoNLL (``.conll``),
    CoNLL-U (``.conllu``), otherwise a document per line, split into sentences."""
    tokenizer = tokenizer_for(config.data.tokenizer)
    texts: list[list[str]] = []
    documents: list[Hashable | None] = []
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"training.teacher_text: {path}: file not found")
        if Path(path).suffix.lower() in (".parquet", ".arrow"):
            raise ConfigError(f"training.teacher_text: {path}: a table; give text (a document per line), .conll or .conllu")
        try:
            read = _read_text(path, config, tokenizer)
        except BirnnTagError as error:
            raise ConfigError(f"training.teacher_text: {error}") from None
        if not read:
            raise ConfigError(f"training.teacher_text: {path}: no sentences")
        texts += [tokens for tokens, _ in read]
        documents += [document for _, document in read]
    return texts, documents


def _read_text(path: str, config: Config, tokenizer: Tokenizer) -> list[tuple[list[str], Hashable | None]]:
    """The non-empty sentences of one ``teacher_text`` file, each with its document."""
    input_format = {".conll": "conll", ".conllu": "conllu"}.get(Path(path).suffix.lower())
    with open(path, "rb") as handle:
        if input_format is not None:
            sentences = read_inputs(handle, path, input_format, None, config.data.encoding, "data.encoding", tokenizer)
        else:
            lines = decode_lines(handle, path, config.data.encoding, "data.encoding")
            sentences = (
                sentence
                for number, line in lines
                for sentence in input_document(document_text(line), False, tokenizer).sentences(number)
            )
        return [(s.tokens, None if s.document is None else (path, s.document)) for s in sentences if s.tokens]


def distilled_split(
    split: Split, texts: Sequence[Sequence[str]], documents: Sequence[Hashable | None] | None,
    pieces: Sequence[tuple[int, int, int]], vocabs: Vocabularies, config: Config, build: BuildTagger,
) -> Split:
    """The training ``split`` (the encoded ``pieces`` of ``texts``) with soft targets on every
    piece and, after them, the sentences of ``training.teacher_text``, untagged, with the
    teacher's marginals as targets; ``build`` makes the teacher's network from its config."""
    teacher = load_teacher(config, vocabs, build)
    labels, weight = vocabs.labels.items, config.training.teacher_weight
    marginals = teacher_marginals(teacher, texts, documents, pieces, labels)
    targets = soft_targets(marginals, [sentence.tags for sentence in split.sentences], weight)
    sentences = [replace(sentence, soft=target) for sentence, target in zip(split.sentences, targets)]
    if config.training.teacher_text:
        extra, extra_documents = teacher_text(config, config.training.teacher_text)
        # cut as training sentences are (data.max_length), so no piece is longer than those
        rows = [(row, start, end) for row, tokens in enumerate(extra) for start, end in piece_bounds(len(tokens), config.data.max_length)]
        size = config.model.document_context
        contexts = piece_contexts(extra, extra_documents, rows, size) if size else None
        pieces = [extra[row][start:end] for row, start, end in rows]
        encoded = encode_in_chunks(TokenEncoder(vocabs, config.encoding), pieces, contexts=contexts)
        for sentence, target in zip(encoded, teacher_marginals(teacher, extra, extra_documents, rows, labels)):
            sentences.append(replace(sentence, tags=torch.full((len(sentence),), MISSING_ID), soft=target))
    return replace(split, sentences=sentences)
