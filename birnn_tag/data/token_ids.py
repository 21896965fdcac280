"""Tokens → word, character and casing ids: the one encoder every model input starts from
(training, scoring, ``predict`` and an exported model's runtime). Torch-free (numpy), so that
onnxruntime is fed exactly what PyTorch is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from birnn_tag.config import EncodingConfig
from birnn_tag.data.vocab import Vocabularies, normalize_word

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


class TokenIds:
    """Token lists → :class:`TokenBatch`; each distinct token's ids are worked out once.

    Natural text repeats a few thousand tokens most of the time, so a cache of each token's word
    id, casing id and (truncated) character ids turns per-character Python work into one dict
    lookup per token. The cache is emptied when it reaches ``cache_size`` entries, which keeps
    memory flat on endless streams.
    """

    def __init__(self, vocabs: Vocabularies, config: EncodingConfig, cache_size: int = 200_000) -> None:
        self.vocabs, self.config, self.cache_size = vocabs, config, cache_size
        self._cache: dict[str, tuple[int, int, list[int]]] = {}

    def lookup(self, token: str) -> tuple[int, int, list[int]]:
        """A token's word id, casing id and character ids (cut to ``max_word_length``)."""
        found = self._cache.get(token)
        if found is None:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            chars = [self.vocabs.chars.id(c) for c in token[: self.config.max_word_length]]
            found = (self.vocabs.words.id(normalize_word(token, self.config)), casing_id(token), chars)
            self._cache[token] = found
        return found

    def encode(self, sentences: Sequence[list[str]]) -> TokenBatch:
        """The sentences' ids, each distinct token looked up once (see :class:`TokenBatch`)."""
        rows: dict[str, int] = {}  # distinct token → its row in the character table (row 0 is padding)
        spellings = np.array([rows.setdefault(token, len(rows) + 1) for tokens in sentences for token in tokens], dtype=np.int64)
        entries = [self.lookup(token) for token in rows]
        width = max((len(ids) for _, _, ids in entries), default=1)
        chars = np.array([[0] * width] + [ids + [0] * (width - len(ids)) for _, _, ids in entries], dtype=np.int64)
        per_row = [(0, 0, 0)] + [(word, casing, len(ids)) for word, casing, ids in entries]
        words, casing, widths = (np.array(column, dtype=np.int64) for column in zip(*per_row))
        return TokenBatch(
            words=words[spellings], casing=casing[spellings], spellings=spellings, chars=chars, widths=widths[spellings],
            lengths=np.array([len(tokens) for tokens in sentences], dtype=np.int64),
        )


@dataclass(frozen=True)
class TokenBatch:
    """Sentences as ids. ``words``, ``casing``, ``spellings`` and ``widths`` are per token, the
    sentences' tokens end to end; ``lengths`` (sentences,) says where each sentence ends.

    Characters are stored once per distinct token (natural text repeats a few thousand tokens
    most of the time): ``chars`` (distinct tokens + 1, longest) holds each one's character ids,
    0-padded, under row 0, the padding's empty spelling; a token's ``spellings`` entry is its row
    and its ``widths`` entry its number of characters.
    """

    words: np.ndarray
    casing: np.ndarray
    spellings: np.ndarray
    chars: np.ndarray
    widths: np.ndarray
    lengths: np.ndarray

    def padded(self) -> dict[str, np.ndarray]:
        """(sentences, longest sentence) word, spelling and casing ids, 0-padded, with the
        character table and the lengths: an exported graph's inputs by name."""
        mask = np.arange(int(self.lengths.max(initial=0)))[None, :] < self.lengths[:, None]

        def pad(values: np.ndarray) -> np.ndarray:
            grid = np.zeros(mask.shape, dtype=np.int64)
            grid[mask] = values  # the mask's True cells, row by row, are the tokens end to end
            return grid

        return {
            "word_ids": pad(self.words), "char_ids": self.chars, "spelling_ids": pad(self.spellings),
            "casing_ids": pad(self.casing), "lengths": self.lengths,
        }
