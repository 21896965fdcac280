"""Clean a loaded corpus: check tags, convert them to the training scheme, cut long sentences into pieces."""

from __future__ import annotations

import logging

import datasets

from birnn_tag.config import DataConfig
from birnn_tag.data.pieces import piece_bounds
from birnn_tag.data.sources import Corpus, map_batched
from birnn_tag.errors import DataError
from birnn_tag.tagging import schemes

logger = logging.getLogger(__name__)


def input_scheme(corpus: Corpus, split: str, config: DataConfig) -> str:
    """The scheme the split's tags are written in (configured, or detected from the split)."""
    if config.input_scheme != "auto":
        return config.input_scheme
    try:
        return schemes.detect_scheme(corpus.splits[split]["tags"])
    except ValueError:
        return "IOB2"  # a malformed tag; _convert_tags reports it with its location


def prepare_split(corpus: Corpus, split: str, config: DataConfig) -> datasets.Dataset:
    """The pieces of one split that the model sees: :func:`clean_split`, then :func:`cut_sentences`
    (between entities for the training split, as ``predict`` cuts for the others)."""
    return cut_sentences(clean_split(corpus, split, config), config, keep_entities=split == "train")


def clean_split(corpus: Corpus, split: str, config: DataConfig) -> datasets.Dataset:
    """Validated, scheme-converted version of one split, one row per sentence as written.

    Columns: ``tokens``, ``tags`` (when the split has tags) and ``where`` (``file:line`` of the
    sentence, so that later errors such as an unknown label can point at it).
    """
    dataset = corpus.splits[split]
    has_tags = "tags" in dataset.column_names
    source = input_scheme(corpus, split, config) if has_tags else None
    repaired: list[str] = []

    def clean(batch: dict, indices: list[int]) -> dict:
        out: dict[str, list] = {"tokens": batch["tokens"], "where": []} | ({"tags": []} if has_tags else {})
        for position, row in enumerate(indices):
            tokens = batch["tokens"][position]
            line = batch["line"][position] if "line" in batch else None
            where = corpus.where(split, row, line)
            if not tokens:
                raise DataError(f"{where}: empty sentence")
            out["where"].append(where)
            if has_tags:
                out["tags"].append(_convert_tags(batch["tags"][position], tokens, source, config, where, repaired))
        return out

    cleaned = map_batched(dataset, clean, with_indices=True, remove_columns=dataset.column_names)
    if repaired:
        logger.warning(
            "%s: repaired %d sentence(s) with invalid %s tag transitions (first at %s)",
            split, len(repaired), source, repaired[0],
        )
    return cleaned


def cut_sentences(sentences: datasets.Dataset, config: DataConfig, *, keep_entities: bool) -> datasets.Dataset:
    """Cut the sentences of a :func:`clean_split` into pieces of at most ``data.max_length`` tokens.

    With ``keep_entities`` (training data) cuts fall between gold entities where possible.
    Otherwise (data to score) they fall where ``predict`` cuts, every ``max_length`` tokens, since
    the gold tags must not help the model being scored. An entity that is cut is written as one
    entity per part, so that every piece's tags are valid in the training scheme (a piece opening
    with ``I-X`` would be a move the constrained CRF forbids). Columns: those of ``sentences``
    plus ``sentence``, the row of the sentence the piece was cut from.
    """
    has_tags = "tags" in sentences.column_names

    def cut_batch(batch: dict, indices: list[int]) -> dict:
        out: dict[str, list] = {"tokens": [], "where": [], "sentence": []} | ({"tags": []} if has_tags else {})
        for position, row in enumerate(indices):
            tokens, where = batch["tokens"][position], batch["where"][position]
            if len(tokens) > config.max_length and config.long_sentences == "error":
                raise DataError(
                    f"{where}: sentence of {len(tokens)} tokens is longer than "
                    f"data.max_length={config.max_length} (set data.long_sentences: split)"
                )
            spans = schemes.to_spans(batch["tags"][position], config.scheme) if has_tags else []
            # A cut just before one of these tokens would split an entity.
            inside = {token for _, start, end in spans for token in range(start + 1, end)} if keep_entities else ()
            for start, end in piece_bounds(len(tokens), config.max_length, inside):
                out["tokens"].append(tokens[start:end])
                out["where"].append(where)
                out["sentence"].append(row)
                if has_tags:
                    out["tags"].append(schemes.from_spans(_clip(spans, start, end), end - start, config.scheme))
        return out

    return map_batched(sentences, cut_batch, with_indices=True, remove_columns=sentences.column_names)


def _clip(spans: list[schemes.Span], start: int, end: int) -> list[schemes.Span]:
    """The parts of ``spans`` inside tokens ``start:end``, counted from ``start``."""
    return [
        (kind, max(first, start) - start, min(last, end) - start)
        for kind, first, last in spans
        if first < end and last > start
    ]


def _convert_tags(tags, tokens, source, config, where: str, repaired) -> list[str]:
    if len(tags) != len(tokens):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    for tag in tags:
        try:
            schemes.check_tag(tag, source)
        except ValueError as error:
            raise DataError(f"{where}: {error}") from None
    position = schemes.first_invalid(tags, source)
    if position is not None:
        if config.invalid_tags == "error":
            raise DataError(
                f"{where}: invalid {source} transition at token {position + 1} "
                f"({tags[position - 1] if position else 'start'} → {tags[position]}); "
                "set data.invalid_tags: repair to fix such tags automatically"
            )
        repaired.append(where)
    return schemes.convert(tags, source, config.scheme)
