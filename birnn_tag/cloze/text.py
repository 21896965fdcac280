"""Raw text for the cloze task: lines → tokens → chunks of at most ``max_length`` → word ids.

Text comes through ``datasets``: the ``text`` builder for plain files (one row per line), a
table's ``data.text_column`` (a string, or a list of tokens), a ``save_to_disk`` folder or a hub
dataset. Blank lines are skipped; each line is its own context (no context crosses a line break).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import datasets
import torch

from birnn_tag.config import Config, DataConfig
from birnn_tag.data.encoding import EncodedSentence
from birnn_tag.data.pieces import piece_bounds
from birnn_tag.data.reading.sources import (
    SPLITS, carve_validation, check_file, file_format, load_split_dict, load_table, map_batched, read_file,
)
from birnn_tag.data.split import Split
from birnn_tag.data.reading.tokenize import tokenizer_for
from birnn_tag.data.vocab import Vocab, Vocabularies, normalize_word
from birnn_tag.errors import DataError

#: Each split's tables with their origins (a path, ``hub:name/split``), as read.
TextSources = dict[str, list[tuple[datasets.Dataset, str]]]


def tokenize_text(text: str, config: DataConfig) -> list[str]:
    """Tokens of one line, with the configured tokenizer."""
    return tokenizer_for(config.tokenizer)(text)[0]


def read_text_file(path: str | Path, config: DataConfig) -> datasets.Dataset:
    """One text file (``.txt`` through the ``text`` builder, or a table) as a ``text`` column;
    a file in CoNLL columns, when ``data.token_column`` says which column holds the words, as
    one row of tokens per sentence (its tags unread)."""
    path = check_file(path)
    kind = file_format(path, config.format)
    if kind in ("conll", "conllu") and config.token_column is not None and path.suffix.lower() != ".txt":
        columns = read_file(path, config, with_tags=False).select_columns(["tokens"])
        return columns.rename_column("tokens", config.text_column)
    builder = "text" if kind == "conll" else kind  # unknown extensions are read as plain text
    return load_table(builder, path, config)


def read_cloze_sources(config: DataConfig) -> TextSources:
    """Each split's tables (several when ``data.train`` lists files) with their origins; the
    cloze task needs a training split."""
    if config.hub or config.disk:
        loaded, origins = load_split_dict(config)
        sources = {split: [(dataset, origins[split])] for split, dataset in loaded.items()}
    else:
        sources = {}
        for split in SPLITS:
            paths = getattr(config, split)
            if paths:
                sources[split] = [(read_text_file(path, config), str(path)) for path in ([paths] if isinstance(paths, str) else paths)]
    if "train" not in sources:
        raise DataError("data: the cloze task needs a training split (data.train, data.disk or data.hub)")
    return sources


def chunk_tokens(dataset: datasets.Dataset, config: DataConfig, origin: str) -> datasets.Dataset:
    """Tokenize the text column and cut every line into chunks of at most ``max_length`` tokens."""
    if config.text_column not in dataset.column_names:
        raise DataError(f"{origin}: no field {config.text_column!r} (data.text_column); fields: {', '.join(dataset.column_names)}")

    def chunk(batch: dict) -> dict:
        out: list[list[str]] = []
        for value in batch[config.text_column]:
            tokens = tokenize_text(value, config) if isinstance(value, str) else list(value or [])
            out.extend(tokens[start:end] for start, end in piece_bounds(len(tokens), config.max_length))
        return {"tokens": out}

    return map_batched(dataset, chunk, remove_columns=dataset.column_names)


def encode_words(tokens: list[str], vocabs: Vocabularies, config: Config) -> EncodedSentence:
    """Word ids of one chunk (no characters, no tags)."""
    ids = [vocabs.words.id(normalize_word(token, config.encoding)) for token in tokens]
    return EncodedSentence(torch.tensor(ids, dtype=torch.long), None)


def encode_cloze_splits(
    config: Config, sources: TextSources, vocabs: Vocabularies | None = None
) -> tuple[Vocabularies, dict[str, Split]]:
    """Tokenize, chunk and encode every split of ``sources`` (:func:`read_cloze_sources`); the
    word vocabulary comes from train (``encoding.min_freq``, ``encoding.max_size``)."""
    chunks = {
        name: datasets.concatenate_datasets([chunk_tokens(dataset, config.data, origin) for dataset, origin in tables])
        for name, tables in sources.items()
    }
    if config.data.validation_fraction > 0 and "validation" not in chunks:
        chunks["train"], chunks["validation"] = carve_validation(chunks["train"], config.data)
    if not len(chunks["train"]):
        raise DataError(f"{config.data.train or 'train'}: no text found (only blank lines?)")
    if vocabs is None:
        counts = Counter(normalize_word(t, config.encoding) for row in chunks["train"]["tokens"] for t in row)
        words = Vocab.from_counts(counts, config.encoding.min_freq, config.encoding.max_size)
        vocabs = Vocabularies(words, Vocab([]), Vocab([], specials=False))
    splits = {
        name: Split([encode_words(tokens, vocabs, config) for tokens in dataset["tokens"]])
        for name, dataset in chunks.items()
    }
    return vocabs, splits
