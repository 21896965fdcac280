"""Sentences → id tensors, computed once per split with a batched ``datasets.map``."""

from __future__ import annotations

from dataclasses import dataclass

import datasets
import torch

from birnn_tag.config import EncodingConfig
from birnn_tag.data.sources import map_batched
from birnn_tag.data.vocab import Vocabularies, normalize_word
from birnn_tag.errors import DataError


@dataclass
class EncodedSentence:
    """One sentence as tensors: ``words`` (T,), ``chars`` (T, W) with 0-padding, ``tags`` (T,).

    ``chars`` is None for models without a character encoder, ``tags`` for untagged text.
    """

    words: torch.Tensor
    chars: torch.Tensor | None
    tags: torch.Tensor | None = None
    casing: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.words.shape[0]


def encode_tokens(tokens: list[str], vocabs: Vocabularies, config: EncodingConfig) -> tuple[list[int], list[list[int]]]:
    """Word ids and per-token character ids (truncated to ``max_word_length``)."""
    words = [vocabs.words.id(normalize_word(token, config)) for token in tokens]
    chars = [[vocabs.chars.id(c) for c in token[: config.max_word_length]] for token in tokens]
    return words, chars


CASINGS = ("<pad>", "other", "numeric", "mostly_numeric", "all_lower", "all_upper", "initial_upper", "contains_digit")


def casing_id(token: str) -> int:
    """The word-shape class of a token (an index into :data:`CASINGS`; 0 is padding)."""
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        kind = "numeric"
    elif digits / max(1, len(token)) > 0.5:
        kind = "mostly_numeric"
    elif token.islower():
        kind = "all_lower"
    elif token.isupper():
        kind = "all_upper"
    elif token[:1].isupper():
        kind = "initial_upper"
    elif digits:
        kind = "contains_digit"
    else:
        kind = "other"
    return CASINGS.index(kind)


def encode_tags(tags: list[str], vocabs: Vocabularies, where: str) -> list[int]:
    """Label ids; a label the model was not trained on is an error naming its sentence."""
    try:
        return [vocabs.labels.id(tag) for tag in tags]
    except KeyError as error:
        known = ", ".join(vocabs.labels.items)
        raise DataError(f"{where}: label {error.args[0]!r} was not seen in training (known: {known})") from None


def char_tensor(chars: list[list[int]]) -> torch.Tensor:
    """(T, W) character ids, right-padded with 0 to the sentence's longest word."""
    width = max(1, max(len(word) for word in chars))
    out = torch.zeros(len(chars), width, dtype=torch.long)
    for position, word in enumerate(chars):
        out[position, : len(word)] = torch.tensor(word, dtype=torch.long)
    return out


def encode_split(dataset: datasets.Dataset, vocabs: Vocabularies, config: EncodingConfig) -> list[EncodedSentence]:
    """Encode a prepared split (columns tokens, optional tags, where) into tensors."""
    has_tags = "tags" in dataset.column_names

    def to_ids(batch: dict) -> dict:
        out: dict[str, list] = {"word_ids": [], "char_ids": [], "casing_ids": []}
        for tokens in batch["tokens"]:
            words, chars = encode_tokens(tokens, vocabs, config)
            out["word_ids"].append(words)
            out["char_ids"].append(chars)
            out["casing_ids"].append([casing_id(token) for token in tokens])
        if has_tags:
            out["tag_ids"] = [encode_tags(t, vocabs, w) for t, w in zip(batch["tags"], batch["where"])]
        return out

    encoded = map_batched(dataset, to_ids, remove_columns=dataset.column_names)
    columns = {name: encoded[name] for name in encoded.column_names}
    return [
        EncodedSentence(
            words=torch.tensor(words, dtype=torch.long),
            chars=char_tensor(chars),
            tags=torch.tensor(columns["tag_ids"][i], dtype=torch.long) if has_tags else None,
            casing=torch.tensor(casings, dtype=torch.long),
        )
        for i, (words, chars, casings) in enumerate(zip(columns["word_ids"], columns["char_ids"], columns["casing_ids"]))
    ]
