"""Clean a loaded corpus: check tags, convert them to the training scheme, split long sentences."""

from __future__ import annotations

import logging

import datasets

from birnn_tag.config import DataConfig
from birnn_tag.data import schemes
from birnn_tag.data.sources import Corpus, map_batched
from birnn_tag.errors import DataError

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
    """Validated, scheme-converted, length-limited version of one split.

    Columns: ``tokens``, ``tags`` (when the split has tags) and ``where`` (``file:line`` of the
    sentence, so that later errors such as an unknown label can point at it).
    """
    dataset = corpus.splits[split]
    has_tags = "tags" in dataset.column_names
    source = input_scheme(corpus, split, config) if has_tags else None
    repaired: list[str] = []

    def clean(batch: dict, indices: list[int]) -> dict:
        out: dict[str, list] = {"tokens": [], "where": []} | ({"tags": []} if has_tags else {})
        for position, row in enumerate(indices):
            tokens = batch["tokens"][position]
            line = batch["line"][position] if "line" in batch else None
            where = lambda: corpus.where(split, row, line)  # noqa: E731 - only built on error
            if not tokens:
                raise DataError(f"{where()}: empty sentence")
            tags = _convert_tags(batch["tags"][position], tokens, source, config, where, repaired) if has_tags else None
            for start in range(0, len(tokens), config.max_length):
                if start and config.long_sentences == "error":
                    raise DataError(
                        f"{where()}: sentence of {len(tokens)} tokens is longer than "
                        f"data.max_length={config.max_length} (set data.long_sentences: split)"
                    )
                out["tokens"].append(tokens[start : start + config.max_length])
                out["where"].append(where())
                if has_tags:
                    out["tags"].append(tags[start : start + config.max_length])
        return out

    cleaned = map_batched(dataset, clean, with_indices=True, remove_columns=dataset.column_names)
    if repaired:
        logger.warning(
            "%s: repaired %d sentence(s) with invalid %s tag transitions (first at %s)",
            split, len(repaired), source, repaired[0],
        )
    return cleaned


def _convert_tags(tags, tokens, source, config, where, repaired) -> list[str]:
    if len(tags) != len(tokens):
        raise DataError(f"{where()}: {len(tokens)} tokens but {len(tags)} tags")
    for tag in tags:
        try:
            schemes.check_tag(tag, source)
        except ValueError as error:
            raise DataError(f"{where()}: {error}") from None
    position = schemes.first_invalid(tags, source)
    if position is not None:
        if config.invalid_tags == "error":
            raise DataError(
                f"{where()}: invalid {source} transition at token {position + 1} "
                f"({tags[position - 1] if position else 'start'} → {tags[position]}); "
                "set data.invalid_tags: repair to fix such tags automatically"
            )
        repaired.append(where())
    return schemes.convert(tags, source, config.scheme)


def prepare_corpus(corpus: Corpus, config: DataConfig) -> datasets.DatasetDict:
    """Prepare every split of the corpus."""
    return datasets.DatasetDict({split: prepare_split(corpus, split, config) for split in corpus.splits})
