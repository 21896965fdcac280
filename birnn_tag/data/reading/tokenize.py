"""Tokenizers that keep each token's character offsets, chosen by ``data.tokenizer``.

``default`` is CoNLL/PTB-style for any script: punctuation is split off words, clitics become
their own tokens ("do" "n't", "John" "'s", with ' or ’), abbreviations ("U.S.") and numbers with
separators ("1,000.5", "12:30") stay whole, and hyphenated words stay whole as in CoNLL-2003
("Italian-born"). A letter keeps its combining marks (decomposed "José", Devanagari "हिन्दी",
Thai "ภาษาไทย"), an emoji sequence (ZWJ family, flag, skin tone) is one token, Han and kana
characters are one token each (no spaces mark their words), and zero-width spaces, bidi controls,
soft hyphens and byte-order marks are left out of tokens while offsets index the text as given.
It is written with the ``regex`` module: Python's ``re`` knows neither Unicode properties
(``\\p{M}``) nor grapheme clusters (``\\X``, UAX #29).

``whitespace`` splits at whitespace only; ``spacy:<lang>`` is spaCy's rule-based tokenizer for
that language (``spacy.blank``, the ``[spacy]`` extra; some languages need their own segmenter
package, as spaCy says).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import regex

from birnn_tag.errors import BirnnTagError, ConfigError

#: Tokens and their ``(start, end)`` character offsets (end exclusive) in the text.
Tokenized = tuple[list[str], list[tuple[int, int]]]
Tokenizer = Callable[[str], Tokenized]

TOKENIZERS = ("default", "whitespace", "spacy:<lang>")

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_LETTER = rf"[[\p{{L}}\p{{M}}]--[{_CJK}]]"
_WORD = rf"[[\p{{L}}\p{{N}}\p{{M}}_\u200c\u200d]--[{_CJK}]]"  # ZWNJ / ZWJ join Indic and Persian letters
_TOKEN = regex.compile(
    rf"""
      (?:{_LETTER}\.){{2,}}(?!\p{{L}})       # abbreviations: U.S.  e.g.
    | {_LETTER}+(?=n['’]t\b)                 # do|n't  ca|n’t
    | n['’]t\b
    | (?i:['’](?:s|re|ve|ll|d|m))\b          # clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:/]\d+)+                      # 1,000.5  12:30  3/4
    | {_WORD}+(?:-{_WORD}+|['’](?!(?i:s|re|ve|ll|d|m)\b){_WORD}+)*   # words, Italian-born, O'Neil (not John|'s)
    | \.\.\.|--
    | (?!\s)\X                               # any other grapheme cluster: 東, 👨‍👩‍👧, 🇩🇪, !
    """,
    regex.VERBOSE | regex.VERSION1,
)
# Invisible characters that are no part of a word: the zero-width space breaks words, the rest
# (bidi marks and isolates, soft hyphen, word joiner, byte-order mark) are dropped from inside them.
_BREAK = "\u200b"
_INVISIBLE = regex.compile(r"[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def tokenize(text: str) -> Tokenized:
    """The ``default`` tokenizer: tokens of ``text`` and their offsets in it."""
    if _INVISIBLE.search(text) is None:
        return _tokens(text)
    kept = [index for index, char in enumerate(text) if char == _BREAK or not _INVISIBLE.match(char)]
    visible = "".join(" " if text[index] == _BREAK else text[index] for index in kept)
    tokens, offsets = _tokens(visible)
    return tokens, [(kept[start], kept[end - 1] + 1) for start, end in offsets]


def _tokens(text: str) -> Tokenized:
    tokens, offsets = [], []
    for match in _TOKEN.finditer(text):
        tokens.append(match.group())
        offsets.append(match.span())
    return tokens, offsets


def whitespace_tokenize(text: str) -> Tokenized:
    """Whitespace-separated tokens of ``text`` with their character offsets."""
    tokens, offsets = [], []
    for match in regex.finditer(r"\S+", text):
        tokens.append(match.group())
        offsets.append(match.span())
    return tokens, offsets


def check_tokenizer(name: str, key: str = "data.tokenizer") -> None:
    """Refuse a tokenizer name that is none of :data:`TOKENIZERS`, naming ``key``."""
    if name in ("default", "whitespace", "ptb") or (name.startswith("spacy:") and name != "spacy:"):
        return
    raise ConfigError(f"{key}: unknown tokenizer {name!r} (expected one of {', '.join(TOKENIZERS)})")


@functools.cache
def tokenizer_for(name: str) -> Tokenizer:
    """The tokenizer ``data.tokenizer`` names (``ptb`` is the old name of ``default``)."""
    check_tokenizer(name)
    if name in ("default", "ptb"):
        return tokenize
    if name == "whitespace":
        return whitespace_tokenize
    return _spacy_tokenizer(name.removeprefix("spacy:"))


def _spacy_tokenizer(language: str) -> Tokenizer:
    try:
        import spacy
    except ImportError:
        raise BirnnTagError(f"data.tokenizer: spacy:{language} needs spaCy: pip install 'birnn-tag[spacy]'") from None
    try:
        nlp = spacy.blank(language)
    except (ImportError, OSError, ValueError) as error:  # an unknown code, or the language's segmenter missing
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BirnnTagError(f"data.tokenizer: spacy:{language}: {message}") from None

    def tokenize_with_spacy(text: str) -> Tokenized:
        words = [token for token in nlp.make_doc(text) if not token.is_space]
        return [token.text for token in words], [(token.idx, token.idx + len(token.text)) for token in words]

    return tokenize_with_spacy
