"""A CoNLL/PTB-style tokenizer that keeps each token's character offsets.

Punctuation is split off words, clitics become their own tokens ("do" "n't", "John" "'s"),
abbreviations ("U.S.") and numbers with separators ("1,000.5", "12:30") stay whole, and
hyphenated words stay whole as in CoNLL-2003 ("Italian-born").
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
      (?:[^\W\d_]\.){2,}(?![^\W\d_])        # abbreviations: U.S.  e.g.
    | [^\W\d_]+(?=n't\b)                    # do|n't  ca|n't
    | n't\b
    | (?i:'(?:s|re|ve|ll|d|m))\b            # clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:/]\d+)+                     # 1,000.5  12:30  3/4
    | \w+(?:-\w+|'(?!(?i:s|re|ve|ll|d|m)\b)\w+)*   # words, Italian-born, O'Neil (not John|'s)
    | \.\.\.|--
    | \S                                    # any other single character
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of ``text`` and their ``(start, end)`` character offsets (end exclusive)."""
    tokens, offsets = [], []
    for match in _TOKEN.finditer(text):
        tokens.append(match.group())
        offsets.append(match.span())
    return tokens, offsets


def whitespace_tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Whitespace-separated tokens of ``text`` with their character offsets."""
    tokens, offsets = [], []
    for match in re.finditer(r"\S+", text):
        tokens.append(match.group())
        offsets.append(match.span())
    return tokens, offsets
