"""Clean a loaded corpus: check tags, convert them to the training scheme, cut long sentences into pieces."""

from __future__ import annotations

import dataclasses
import logging

import datasets

from birnn_tag.config import DataConfig
from birnn_tag.data.pieces import piece_bounds, window_bounds
from birnn_tag.data.reading.conll import DOCUMENT_COLUMN
from birnn_tag.data.reading.sources import Corpus, map_batched
from birnn_tag.errors import DataError
from birnn_tag.tagging.data import schemes
logger = logging.getLogger(__name__)


def input_scheme(corpus: Corpus, split: str, config: DataConfig) -> str:
    """The scheme the split's tags are written in: configured, or detected from the split
    (``none`` when no tag has a span prefix). A split that mixes prefixed tags with plain labels
    is an error naming one of each, since neither reading fits the whole file."""
    if config.input_scheme != "auto":
        return config.input_scheme
    tags = corpus.splits[split]["tags"]
    if config.missing_tag is not None:
        tags = [known_tags(row, config.missing_tag) for row in tags]
    prefixed, plain = schemes.first_of_each_kind(tags)
    if prefixed is None and plain is not None:
        return schemes.NO_SPANS
    if prefixed is not None and plain is not None:
        raise DataError(
            f"{_tag_at(corpus, split, *prefixed)} has a span prefix but {_tag_at(corpus, split, *plain)} "
            "has none; set data.scheme: none to take every tag as a plain label, or fix the tags"
        )
    malformed = schemes.first_malformed(tags)  # a prefix without a type (``B-``)
    if malformed is not None:
        row, position, why = malformed
        raise DataError(f"{_token_at(corpus, split, row, position)}: {why}")
    return schemes.detect_scheme(tags)


def training_scheme(corpus: Corpus, config: DataConfig, split: str = "train") -> str:
    """``data.scheme``, or for ``auto`` what the tags of ``split`` (the training split) call for:
    ``none`` when none of them has a span prefix (POS tags), IOB2 otherwise."""
    if config.scheme != "auto":
        return config.scheme
    return schemes.NO_SPANS if input_scheme(corpus, split, config) == schemes.NO_SPANS else "IOB2"


def resolve_scheme(corpus: Corpus, split: str, config: DataConfig) -> DataConfig:
    """``config`` with ``scheme: auto`` resolved by the training split (or by ``split`` itself
    when the corpus has no training split)."""
    if config.scheme != "auto" or "tags" not in corpus.splits[split].column_names:
        return config
    source = "train" if "train" in corpus.splits else split
    return dataclasses.replace(config, scheme=training_scheme(corpus, config, source))


def _token_at(corpus: Corpus, split: str, row: int, position: int) -> str:
    """Where a token is, for messages: its sentence's ``file:line`` (or table row) and token number."""
    dataset = corpus.splits[split]
    line = dataset[row]["line"] if "line" in dataset.column_names else None
    return f"{corpus.where(split, row, line)} token {position + 1}"


def _tag_at(corpus: Corpus, split: str, row: int, position: int) -> str:
    """A tag and where it is, for messages."""
    return f"{_token_at(corpus, split, row, position)}: tag {corpus.splits[split][row]['tags'][position]!r}"


def clean_split(corpus: Corpus, split: str, config: DataConfig) -> datasets.Dataset:
    """Validated, scheme-converted version of one split, one row per sentence as written.

    ``scheme: auto`` is resolved by :func:`resolve_scheme`. Columns: ``tokens``, ``tags`` (when the split has tags), ``where`` (``file:line`` of the
    sentence, so that later errors such as an unknown label can point at it) and ``document``
    where the split has one.
    """
    dataset = corpus.splits[split]
    has_tags = "tags" in dataset.column_names
    config = resolve_scheme(corpus, split, config)
    spans = config.scheme != schemes.NO_SPANS
    source = input_scheme(corpus, split, config) if has_tags and spans else None
    if source == schemes.NO_SPANS:
        _, plain = schemes.first_of_each_kind(dataset["tags"])
        what = f"{_tag_at(corpus, split, *plain)} and the split's other tags have" if plain else f"{corpus.origins[split]} has"
        raise DataError(
            f"{what} no span prefix (B-, I-, E-, S-), but data.scheme is {config.scheme}; "
            "set data.scheme: none (or auto) for labels without spans, such as POS tags"
        )
    repaired: list[str] = []

    def clean(batch: dict, indices: list[int]) -> dict:
        out: dict[str, list] = {"tokens": batch["tokens"], "where": []} | ({"tags": []} if has_tags else {})
        if DOCUMENT_COLUMN in batch:
            out[DOCUMENT_COLUMN] = batch[DOCUMENT_COLUMN]
        for position, row in enumerate(indices):
            tokens = batch["tokens"][position]
            line = batch["line"][position] if "line" in batch else None
            where = corpus.where(split, row, line)
            if not tokens:
                raise DataError(f"{where}: empty sentence")
            out["where"].append(where)
            if has_tags:
                tags = batch["tags"][position]
                if config.missing_tag in tags and split != "train":
                    raise DataError(f"{where}: tag {config.missing_tag!r} (data.missing_tag) is for the training split only; label every token of {split}")
                known = _convert_tags(known_tags(tags, config.missing_tag), tokens, source, config, where, repaired)
                out["tags"].append(with_missing(known, tags, config.missing_tag))
        return out

    cleaned = map_batched(dataset, clean, with_indices=True, remove_columns=dataset.column_names)
    if repaired:
        logger.warning(
            "%s: repaired %d sentence(s) with invalid %s tag transitions (first at %s)",
            split, len(repaired), source, repaired[0],
        )
    return cleaned


def cut_sentences(sentences: datasets.Dataset, config: DataConfig, *, keep_entities: bool) -> datasets.Dataset:
    """Cut the sentences of a :func:`clean_split` into pieces of at most ``data.max_length`` tokens;
    ``config.scheme`` is the one they were cleaned into (resolved, not ``auto``).

    With ``keep_entities`` (training data) the pieces do not overlap and cuts fall between gold
    entities where possible. Otherwise (data to score) they are the overlapping windows
    ``predict`` tags (:func:`~birnn_tag.data.pieces.window_bounds`), since the gold tags must not
    help the model being scored. An entity that is cut is written as one entity per part, so that
    every piece's tags are valid in the training scheme (a piece opening with ``I-X`` would be a
    move the constrained CRF forbids). Columns: ``tokens``, ``where``, ``tags`` (if any), and
    ``sentence``, the row of the sentence the piece was cut from, and ``start``, its first
    token's position there.
    """
    has_tags = "tags" in sentences.column_names
    by_span = config.scheme != schemes.NO_SPANS

    def cut_batch(batch: dict, indices: list[int]) -> dict:
        out: dict[str, list] = {"tokens": [], "where": [], "sentence": [], "start": []} | ({"tags": []} if has_tags else {})
        for position, row in enumerate(indices):
            tokens, where = batch["tokens"][position], batch["where"][position]
            if len(tokens) > config.max_length and config.long_sentences == "error":
                raise DataError(
                    f"{where}: sentence of {len(tokens)} tokens is longer than "
                    f"data.max_length={config.max_length} (set data.long_sentences: split)"
                )
            tags = batch["tags"][position] if has_tags else []
            spans = schemes.to_spans(known_tags(tags, config.missing_tag), config.scheme) if by_span else []
            if keep_entities:
                # A cut just before one of these tokens would split an entity.
                inside = {token for _, start, end in spans for token in range(start + 1, end)}
                bounds = piece_bounds(len(tokens), config.max_length, inside)
            else:
                bounds = window_bounds(len(tokens), config.max_length)
            for start, end in bounds:
                out["tokens"].append(tokens[start:end])
                out["where"].append(where)
                out["sentence"].append(row)
                out["start"].append(start)
                if has_tags and by_span:
                    piece = schemes.from_spans(_clip(spans, start, end), end - start, config.scheme)
                    out["tags"].append(with_missing(piece, tags[start:end], config.missing_tag))
                elif has_tags:
                    out["tags"].append(tags[start:end])
        return out

    return map_batched(sentences, cut_batch, with_indices=True, remove_columns=sentences.column_names)


def known_tags(tags: list[str], missing: str | None) -> list[str]:
    """``tags`` with each missing one (``data.missing_tag``) read as ``O`` for scheme checks,
    conversion and cutting; :func:`with_missing` puts them back."""
    return tags if missing is None or missing not in tags else ["O" if tag == missing else tag for tag in tags]


def with_missing(tags: list[str], original: list[str], missing: str | None) -> list[str]:
    """``tags`` (worked out from :func:`known_tags`) with ``original``'s missing tags restored."""
    if missing is None or missing not in original:
        return tags
    return [missing if given == missing else tag for tag, given in zip(tags, original)]


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
    if source is None:  # data.scheme none: the tags are the labels
        return tags
    for tag in tags:
        try:
            schemes.check_tag(tag, source)
        except ValueError as error:
            hint = "" if schemes.has_prefix(tag) else "; for labels without spans (POS tags) set data.scheme: none"
            raise DataError(f"{where}: {error}{hint}") from None
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
