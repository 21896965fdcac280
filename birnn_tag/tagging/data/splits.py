"""The tagging data pipeline: corpus → settled scheme → cleaned splits → vocabularies → encoded tensors."""

from __future__ import annotations

import dataclasses
import logging

from typing import TYPE_CHECKING

import datasets

from birnn_tag.config import Config
from birnn_tag.data.document_context import piece_contexts
from birnn_tag.data.encoding import encode_split
from birnn_tag.data.reading.conll import DOCUMENT_COLUMN
from birnn_tag.data.pretrained import pretrained_words
from birnn_tag.data.reading.sources import Corpus
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies, normalize_word
from birnn_tag.errors import ConfigError
from birnn_tag.tagging.data import schemes
from birnn_tag.tagging.data.preparation import clean_split, cut_sentences, resolve_scheme

if TYPE_CHECKING:
    from birnn_tag.tagging.distillation import BuildTagger

logger = logging.getLogger(__name__)


def tagging_split(
    sentences: datasets.Dataset, pieces: datasets.Dataset, vocabs: Vocabularies, config: Config, *, train: bool = False
) -> Split:
    """The :class:`Split` of a :func:`~birnn_tag.tagging.data.preparation.clean_split` and its
    :func:`~birnn_tag.tagging.data.preparation.cut_sentences`.

    With ``model.document_context`` each piece comes with the tokens around it in its document
    (:func:`~birnn_tag.data.document_context.piece_contexts`). Only the ``train`` split's tags become label ids (the loss needs them). Other splits keep
    their gold tags as strings to score against: a label the model never learned (a dev ``I-PRT``
    where training has only one-word ``B-PRT`` chunks) is an error to count, not a reason to stop.
    """
    bounds: list[list[tuple[int, int]]] = [[] for _ in range(len(sentences))]
    for row, start, tokens in zip(pieces["sentence"], pieces["start"], pieces["tokens"]):
        bounds[row].append((start, start + len(tokens)))
    piece_tags = pieces["tags"] if "tags" in pieces.column_names else None
    if not train and piece_tags is not None:
        pieces = pieces.remove_columns("tags")
    contexts = None
    if config.model.document_context:
        contexts = piece_contexts(sentences["tokens"], documents_of(sentences), piece_rows(pieces), config.model.document_context)
    encoded = encode_split(pieces, vocabs, config.encoding, config.data.missing_tag, contexts)
    return Split(encoded, sentences["tags"], bounds, sentences["tokens"], piece_tags)


def pretrained_in_splits(prepared: datasets.DatasetDict, config: Config) -> set[str]:
    """Normalised words of any split that have a pretrained vector (exact or lowercased).

    Adding them to the vocabulary (Lample et al. 2016) lets dev/test words keep their pretrained
    vector instead of becoming ``<unk>``; no label or gold information is used.
    """
    if not config.model.embeddings:
        raise ConfigError("encoding.include_pretrained: needs model.embeddings (a vectors file)")
    available = pretrained_words(config.model.embeddings)
    found = set()
    for dataset in prepared.values():
        for tokens in dataset["tokens"]:
            for token in tokens:
                word = normalize_word(token, config.encoding)
                if word in available or word.lower() in available:
                    found.add(word)
    return found


def settle_scheme(config: Config, corpus: Corpus) -> Config:
    """``config`` with ``data.scheme: auto`` decided by the training tags (none or IOB2)."""
    return dataclasses.replace(config, data=resolve_scheme(corpus, "train", config.data))


def encode_tagging_splits(
    config: Config, corpus: Corpus, vocabs: Vocabularies | None, build: BuildTagger
) -> tuple[Vocabularies, dict[str, Split]]:
    """Clean and encode every split of ``corpus`` (``config`` as :func:`settle_scheme` gives it);
    build the vocabularies from train unless given. With ``training.teacher`` the training split
    gets the teacher's targets (:mod:`~birnn_tag.tagging.distillation`; ``build`` makes the
    teacher's network)."""
    sentences = {name: clean_split(corpus, name, config.data) for name in corpus.splits}
    pieces = datasets.DatasetDict(
        {name: cut_sentences(dataset, config.data, keep_entities=name == "train") for name, dataset in sentences.items()}
    )
    if vocabs is None:
        extra = pretrained_in_splits(pieces, config) if config.encoding.include_pretrained else set()
        # From the pieces: a cut entity adds its parts' tags (e.g. BIOES S-X) to the labels.
        missing = config.data.missing_tag
        labelled = [[tag for tag in row if tag != missing] for row in pieces["train"]["tags"]]
        vocabs = Vocabularies.build(pieces["train"]["tokens"], labelled, config.encoding, extra)
    for name in sentences:
        if name != "train":
            warn_unknown_labels(corpus.origins[name], sentences[name], vocabs, config.data.scheme)
    splits = {name: tagging_split(sentences[name], pieces[name], vocabs, config, train=name == "train") for name in pieces}
    if config.training.teacher and "train" in splits:
        from birnn_tag.tagging.distillation import distilled_split

        train = sentences["train"]
        rows = piece_rows(pieces["train"])
        splits["train"] = distilled_split(splits["train"], train["tokens"], documents_of(train), rows, vocabs, config, build)
    return vocabs, splits


def documents_of(sentences: datasets.Dataset) -> list | None:
    """The document of each cleaned sentence, where its split marks documents."""
    return sentences[DOCUMENT_COLUMN] if DOCUMENT_COLUMN in sentences.column_names else None


def piece_rows(pieces: datasets.Dataset) -> list[tuple[int, int, int]]:
    """Each piece of :func:`~birnn_tag.tagging.data.preparation.cut_sentences` as ``(sentence row, start, end)``."""
    return [(row, start, start + len(tokens)) for row, start, tokens in zip(pieces["sentence"], pieces["start"], pieces["tokens"])]


def warn_unknown_labels(origin: str, sentences: datasets.Dataset, vocabs: Vocabularies, scheme: str) -> None:
    """Log the gold labels (span types, for span schemes) of a cleaned split that training never
    had: the model cannot predict them, so each of their tokens or entities counts as an error."""
    if "tags" not in sentences.column_names:
        return
    unknown = schemes.label_kinds(sentences["tags"], scheme) - schemes.label_kinds([vocabs.labels.items], scheme)
    if unknown:
        what = "labels" if scheme == schemes.NO_SPANS else "entity types"
        logger.warning("%s: %s not seen in training (always wrong): %s", origin, what, ", ".join(sorted(unknown)))
