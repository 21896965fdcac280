"""Streaming prediction: read sentences lazily, tag them in batches, write results in input order.

Torch-free: a backend's :data:`Decode` tags the pieces (PyTorch's in :mod:`~birnn_tag.tagging.prediction.decoding`,
an exported model's in :mod:`~birnn_tag.tagging.onnx.runtime`).

Memory stays flat on any input size: sentences are read ``chunk_size`` at a time, each chunk is
encoded and decoded in groups of at most :data:`GROUP_TOKENS` tokens (in length-sorted batches),
written, and dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from birnn_tag.config import Config
from birnn_tag.data.batch_plans import chunked
from birnn_tag.data.reading.conll import ColumnFormat, decode_lines, iter_conll
from birnn_tag.data.reading.conllu import COLUMNS, TOKEN_COLUMN, iter_conllu
from birnn_tag.data.document_context import Context, piece_contexts
from birnn_tag.data.pieces import join_windows, piece_bounds, window_bounds
from birnn_tag.data.reading.tokenize import Tokenizer, tokenize, whitespace_tokenize
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError, short_repr
from birnn_tag.tagging.data import schemes

INPUT_FORMATS = ("text", "pretokenized", "conll", "conllu")
OUTPUT_FORMATS = ("conll", "jsonl", "label-studio", "doccano")
#: Output formats that are spans in an annotation tool's import format (pre-annotations).
SPAN_OUTPUTS = ("label-studio", "doccano")
# Tokens encoded and tagged together: a chunk of 4,096 news sentences (~57k tokens) is one group,
# while one 5 MB line (a million tokens) is tagged a group at a time; encoded all at once it held
# ~190 MB of id tensors.
GROUP_TOKENS = 65_536


@dataclass
class InputSentence:
    """A sentence to tag: its text, tokens and each token's ``(start, end)`` offsets in the text;
    ``document`` says which document it is part of (sentences next to each other with equal
    values are one document, read together by models with document context), None: alone."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]
    document: Hashable | None = None

    @classmethod
    def from_tokens(cls, tokens: list[str], document: Hashable | None = None) -> InputSentence:
        """A pre-tokenized sentence; its text is the tokens joined by single spaces."""
        offsets, position = [], 0
        for token in tokens:
            offsets.append((position, position + len(token)))
            position += len(token) + 1
        return cls(" ".join(tokens), tokens, offsets, document)


@dataclass(frozen=True)
class Span:
    """An entity: its ``type``, character offsets ``start:end`` into the sentence's text and that
    ``text``, token offsets ``token_start:token_end``, and ``confidence`` (the product of its
    tokens' confidences; None when the prediction has none)."""

    type: str
    start: int
    end: int
    text: str
    token_start: int
    token_end: int
    confidence: float | None

    def to_dict(self) -> dict[str, Any]:
        """The span as ``predict --format jsonl`` writes it (confidence to 4 decimals, if any)."""
        record = dataclasses.asdict(self)
        if self.confidence is None:
            del record["confidence"]
        else:
            record["confidence"] = round(self.confidence, 4)
        return record


@dataclass(frozen=True)
class Prediction:
    """One sentence's ``tokens`` (``offsets``: each one's ``(start, end)`` in ``text``), ``tags``
    in the run's ``scheme``, per-token ``confidences`` (the chosen tag's probability, or its CRF
    marginal; None when not asked for), entity ``spans``, worked out on first use, and, when
    asked for, the ``k_best`` tag sequences with their probabilities, best first (CRF heads)."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]] = field(repr=False)
    tags: list[str]
    confidences: list[float] | None
    scheme: str = field(repr=False)
    k_best: list[tuple[list[str], float]] | None = None

    def to_record(self, min_confidence: float | None = None) -> dict[str, Any]:
        """The prediction as ``predict --format jsonl`` (and the service) writes it: text, tokens,
        tags, confidences to 4 decimals (when it has them), spans (unless its labels have none;
        with ``min_confidence``, only those at least that confident)."""
        record: dict[str, Any] = {"text": self.text, "tokens": self.tokens, "tags": self.tags}
        if self.confidences is not None:
            record["confidences"] = [round(c, 4) for c in self.confidences]
        if self.scheme != schemes.NO_SPANS:
            spans = self.spans
            if min_confidence is not None:  # spans without a confidence (none asked for) stay
                spans = [s for s in spans if s.confidence is None or s.confidence >= min_confidence]
            record["spans"] = [span.to_dict() for span in spans]
        if self.k_best is not None:
            record["k_best"] = [{"tags": tags, "prob": round(p, 4)} for tags, p in self.k_best]
        return record

    @functools.cached_property
    def spans(self) -> list[Span]:
        """The entities the tags mark (CoNLL output never asks, so it never pays for them);
        none for labels without spans (``data.scheme: none``)."""
        if self.scheme == schemes.NO_SPANS:
            return []
        spans = []
        for kind, start, end in schemes.to_spans(self.tags, self.scheme):
            char_start, char_end = self.offsets[start][0], self.offsets[end - 1][1]
            confidence = None if self.confidences is None else math.prod(self.confidences[start:end])
            spans.append(Span(kind, char_start, char_end, self.text[char_start:char_end], start, end, confidence))
        return spans


def read_inputs(
    handle: BinaryIO, name: str, input_format: str, token_column: int | None = None,
    encoding: str = "utf-8", setting: str = "encoding", tokenizer: Tokenizer = tokenize,
) -> Iterator[InputSentence]:
    """Sentences from a stream: ``text`` (one per line, tokenized), ``pretokenized``
    (whitespace-separated tokens, one sentence per line), ``conll`` (token column, blank-line
    breaks; ``-DOCSTART-`` lines start documents) or ``conllu`` (its words; ``# newdoc`` starts
    a document). ``token_column`` None: the format's default (0; FORM).
    Bytes that are not ``encoding`` are an error naming ``setting``; ``tokenizer`` splits text lines.

    Blank lines in line-based input give empty sentences, so output lines stay aligned with input.
    """
    lines = decode_lines(handle, name, encoding, setting)
    if input_format in ("conll", "conllu"):
        if input_format == "conll":
            sentences = iter_conll(lines, name, ColumnFormat(token_column=token_column or 0, tag_column=None))
        else:
            column = COLUMNS.index(TOKEN_COLUMN) if token_column is None else token_column
            sentences = iter_conllu(lines, name, column, tag_column=None)
        for sentence in sentences:
            yield InputSentence.from_tokens(sentence.tokens, sentence.document)
        return
    for _, line in lines:
        yield input_sentence(line, pretokenized=input_format == "pretokenized", tokenizer=tokenizer)


def input_sentence(
    item: str | Sequence[str], pretokenized: bool = False, number: int | None = None, tokenizer: Tokenizer = tokenize
) -> InputSentence:
    """A line of text (split by ``tokenizer``, the run's, or on whitespace when ``pretokenized``)
    or a list of tokens (its text is the tokens joined by spaces). An empty or blank token is an
    error naming sentence ``number`` (1-based) and the token."""
    if isinstance(item, str):
        tokens, offsets = (whitespace_tokenize if pretokenized else tokenizer)(item)
        return InputSentence(item, tokens, offsets)
    tokens = list(item)
    for position, token in enumerate(tokens, start=1):
        if not isinstance(token, str) or not token.strip():
            where = f"sentence {number} " if number is not None else ""
            raise BirnnTagError(f"{where}token {position}: expected a non-empty string, got {short_repr(token)}")
    return InputSentence.from_tokens(tokens)


def _groups(pieces: list[list[str]], max_tokens: int, contexts: list[Context] | None = None) -> Iterator[tuple[list[list[str]], list[Context] | None]]:
    """Consecutive runs of ``pieces`` (with their ``contexts``, if any) with at most
    ``max_tokens`` tokens together (or one piece)."""
    first, tokens = 0, 0
    for end, piece in enumerate(pieces):
        if end > first and tokens + len(piece) > max_tokens:
            yield pieces[first:end], None if contexts is None else contexts[first:end]
            first, tokens = end, 0
        tokens += len(piece)
    if first < len(pieces):
        yield pieces[first:], None if contexts is None else contexts[first:]


# Tags (and, when asked, confidences) for a group of token lists: how a backend (PyTorch, or an
# exported model's onnxruntime) tags pieces; ``(pieces, confidences, contexts) -> (tag ids, scores
# or None)``, ``contexts`` each piece's document context for models that read one, else None.
Decode = Callable[[list[list[str]], bool, list[Context] | None], tuple[list[list[int]], list[list[float]] | None]]
# The k best tag id sequences of each of a group of token lists (with their contexts, as for
# Decode), with their probabilities, best first.
KBest = Callable[[list[list[str]], list[Context] | None], list[list[tuple[list[int], float]]]]


def join_tags(
    tag_ids: Sequence[Sequence[int]], bounds: Sequence[Sequence[tuple[int, int]]], labels: Sequence[str], scheme: str
) -> list[list[str]]:
    """Each sentence's tags from its windows' tag ids (:func:`~birnn_tag.data.pieces.join_windows`).
    Where windows meet, the tags of two decodings meet: a sentence tagged in several is made valid
    in ``scheme`` (an ``I-X`` after ``O`` opens the entity), as one decoding of it would be."""
    joined = []
    for ids, windows in zip(join_windows(tag_ids, bounds), bounds):
        tags = [labels[i] for i in ids]
        if len(windows) > 1 and scheme in ("IOB2", "BIOES"):
            tags = schemes.convert(tags, scheme, scheme)
        joined.append(tags)
    return joined


def tag_sentences(
    config: Config, vocabs: Vocabularies, decode: Decode, inputs: Iterable[InputSentence], *,
    chunk_size: int = 4096, confidences: bool = True, k_best: KBest | None = None, k: int = 0,
) -> Iterator[Prediction]:
    """Tag ``inputs`` lazily with ``decode``, ``chunk_size`` sentences at a time; sentences longer
    than ``data.max_length`` are tagged in overlapping windows and joined (:func:`join_tags`).
    Without ``confidences`` the predictions carry none (``None``). With ``k_best`` each prediction
    lists its ``k`` best sequences (a cut sentence's combine its pieces' lists).

    For a model with document context (``model.document_context``) the chunks before and after
    a chunk are at hand while it is tagged (one chunk is read ahead), so that a sentence sees its
    neighbours across a chunk's edge as in training (a context reaches no further than the next
    chunk) while memory stays flat."""
    context = config.model.document_context
    chunks = chunked(inputs, chunk_size)
    for before, chunk, after in _with_neighbours(chunks) if context else (([], chunk, []) for chunk in chunks):
        bounds = [window_bounds(len(sentence.tokens), config.data.max_length) for sentence in chunk]
        windows = [sentence.tokens[start:end] for sentence, spans in zip(chunk, bounds) for start, end in spans]
        contexts = _contexts(before, chunk, after, bounds, context) if context else None
        tag_ids: list[list[int]] = []
        chunk_scores: list[list[float]] | None = [] if confidences else None
        for group, group_contexts in _groups(windows, GROUP_TOKENS, contexts):
            ids, scores = decode(group, confidences, group_contexts)
            tag_ids += ids
            if chunk_scores is not None:
                chunk_scores += scores
        sentence_tags = join_tags(tag_ids, bounds, vocabs.labels.items, config.data.scheme)
        sentence_scores = join_windows(chunk_scores, bounds) if chunk_scores is not None else [None] * len(chunk)
        lists = _k_best(before, chunk, after, k_best, k, config.data.max_length, context) if k_best is not None else None
        sentence_lists = lists or [None] * len(chunk)
        label = vocabs.labels.items.__getitem__
        for sentence, tags, scores, paths in zip(chunk, sentence_tags, sentence_scores, sentence_lists):
            if paths is not None:
                paths = [(list(map(label, path)), p) for path, p in paths]
            yield Prediction(sentence.text, sentence.tokens, sentence.offsets, tags, scores, config.data.scheme, paths)


def _k_best(
    before: Sequence[InputSentence], chunk: Sequence[InputSentence], after: Sequence[InputSentence],
    k_best: KBest, k: int, max_length: int, context: int,
) -> list[list[tuple[list[int], float]]]:
    """Each sentence's ``k`` best sequences; a sentence longer than ``max_length`` combines those
    of consecutive pieces that do not overlap (a sequence's probability is then its pieces')."""
    bounds = [piece_bounds(len(sentence.tokens), max_length) for sentence in chunk]
    pieces = [sentence.tokens[start:end] for sentence, spans in zip(chunk, bounds) for start, end in spans]
    contexts = _contexts(before, chunk, after, bounds, context) if context else None
    lists = [paths for group, group_contexts in _groups(pieces, GROUP_TOKENS, contexts) for paths in k_best(group, group_contexts)]
    return _join_k_best(lists, [len(spans) for spans in bounds], k)


def _contexts(
    before: Sequence[InputSentence], chunk: Sequence[InputSentence], after: Sequence[InputSentence],
    bounds: Sequence[Sequence[tuple[int, int]]], size: int,
) -> list[Context]:
    """The document context of each piece ``bounds`` cuts the sentences of ``chunk`` into, its
    neighbours found in ``before`` and ``after`` too (the chunks around it)."""
    around = [*before, *chunk, *after]
    pieces = [(len(before) + row, start, end) for row, spans in enumerate(bounds) for start, end in spans]
    return piece_contexts([sentence.tokens for sentence in around], [sentence.document for sentence in around], pieces, size)


def _with_neighbours(chunks: Iterable[list[InputSentence]]) -> Iterator[tuple[list[InputSentence], list[InputSentence], list[InputSentence]]]:
    """Each chunk with the chunks before and after it (empty at the ends), reading one ahead."""
    iterator = iter(chunks)
    before: list[InputSentence] = []
    chunk = next(iterator, None)
    while chunk is not None:
        after = next(iterator, None)
        yield before, chunk, after or []
        before, chunk = chunk, after


def _join_k_best(lists: list[list[tuple[list[int], float]]], counts: list[int], k: int) -> list[list[tuple[list[int], float]]]:
    """Each sentence's ``k`` best sequences from its pieces' lists (``counts[i]`` consecutive lists
    per sentence): the pieces are tagged independently, so a sentence's sequence is one path per
    piece and its probability their product."""
    joined, position = [], 0
    for count in counts:
        best: list[tuple[list[int], float]] = [([], 1.0)]  # an empty sentence has one, empty, sequence
        for paths in lists[position : position + count]:
            combined = [(left + right, p * q) for left, p in best for right, q in paths]
            best = sorted(combined, key=lambda pair: -pair[1])[:k]
        joined.append(best)
        position += count
    return joined


def format_prediction(prediction: Prediction, output_format: str, min_confidence: float | None = None) -> str:
    """One prediction as text: CoNLL ``token<TAB>tag`` lines plus a blank line, or one JSON line
    (with confidences when the prediction has them, and spans unless its labels have none)."""
    if output_format == "conll":
        rows = "".join(f"{token}\t{tag}\n" for token, tag in zip(prediction.tokens, prediction.tags))
        return rows + "\n"
    if output_format in SPAN_OUTPUTS:
        return json.dumps(_pre_annotation(prediction, output_format, min_confidence), ensure_ascii=False) + "\n"
    return json.dumps(prediction.to_record(min_confidence), ensure_ascii=False) + "\n"


def _pre_annotation(prediction: Prediction, output_format: str, min_confidence: float | None) -> dict[str, Any]:
    """A prediction as a task an annotation tool imports with its spans pre-annotated: Label
    Studio (its NER template's names, ``label`` on ``text``; each span's calibrated confidence
    as its ``score``, their mean as the prediction's) or doccano (``label`` triples)."""
    spans = [s for s in prediction.spans if min_confidence is None or s.confidence is None or s.confidence >= min_confidence]
    if output_format == "doccano":
        return {"text": prediction.text, "label": [[span.start, span.end, span.type] for span in spans]}
    result = []
    for span in spans:
        item: dict[str, Any] = {
            "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": span.start, "end": span.end, "text": span.text, "labels": [span.type]},
        }
        if span.confidence is not None:
            item["score"] = round(span.confidence, 4)
        result.append(item)
    scores = [item["score"] for item in result if "score" in item]
    annotation: dict[str, Any] = {"model_version": "birnn-tag", "result": result}
    if scores:
        annotation["score"] = round(sum(scores) / len(scores), 4)
    return {"data": {"text": prediction.text}, "predictions": [annotation]}
