"""Tokens → word, character and casing ids as plain lists: the lookup every model input starts
from. Torch-free, so that an exported model's runtime (onnxruntime + numpy) encodes as ``predict`` does."""

from __future__ import annotations

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
    """Token lists → :class:`EncodedSentence`; each distinct token's ids are worked out once.

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

    def ids(self, tokens: list[str]) -> tuple[list[int], list[list[int]], list[int]]:
        """Word ids, character ids (0-padded to the sentence's longest word) and casing ids."""
        entries = [self.lookup(token) for token in tokens]
        width = max((len(chars) for _, _, chars in entries), default=1)
        return (
            [word for word, _, _ in entries],
            [chars + [0] * (width - len(chars)) for _, _, chars in entries],
            [casing for _, casing, _ in entries],
        )
