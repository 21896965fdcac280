"""Reader for CoNLL-U, the Universal Dependencies format: ten tab-separated columns per word,
``#`` comment lines, blank lines between sentences.

Multiword token ranges (ID ``1-2``: the surface form of words that follow) and empty nodes (ID
``1.1``) are skipped, so a sentence is its syntactic words. Problems are reported as
``file:line: message``, like the CoNLL column reader's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from birnn_tag.data.reading.conll import NEW_DOCUMENT, ColumnSentence, decode_lines, group_sentences, sentence_columns
from birnn_tag.errors import DataError

COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
TOKEN_COLUMN, TAG_COLUMN = "form", "upos"


def column_index(value: int | str | None, default: str, key: str, where: str = "") -> int:
    """The index of a CoNLL-U column given by name (``upos``) or index (negative counts from the
    end); ``key`` names the setting and ``where`` the file in messages."""
    prefix = f"{where}: " if where else ""
    if value is None:
        value = default
    if isinstance(value, str):
        if value.lower() not in COLUMNS:
            raise DataError(
                f"{prefix}data.{key}: CoNLL-U has no column {value!r}; expected one of {', '.join(COLUMNS)} or an index"
            )
        return COLUMNS.index(value.lower())
    if not -len(COLUMNS) <= value < len(COLUMNS):
        raise DataError(f"{prefix}data.{key}={value}: CoNLL-U has {len(COLUMNS)} columns")
    return value % len(COLUMNS)


def iter_conllu(
    lines: Iterable[tuple[int, str]], name: str, token_column: int = 1, tag_column: int | None = 3
) -> Iterator[ColumnSentence]:
    """Sentences (the line of their first word, words, tags) from numbered CoNLL-U lines."""
    return group_sentences(_words(lines, name, token_column, tag_column), tag_column is not None)


def _words(
    lines: Iterable[tuple[int, str]], name: str, token_column: int, tag_column: int | None
) -> Iterator[tuple[int, str, str | None] | str | None]:
    for number, line in lines:
        if not line.strip():
            yield None
            continue
        if line.startswith("#"):
            if line[1:].split(maxsplit=1)[:1] == ["newdoc"]:  # ``# newdoc`` or ``# newdoc id = ...``
                yield NEW_DOCUMENT
            continue
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            raise DataError(f"{name}:{number}: expected {len(COLUMNS)} tab-separated columns (CoNLL-U), found {len(fields)}")
        word_id = fields[0]
        if "-" in word_id or "." in word_id:  # a multiword token's range, or an empty node
            continue
        if not word_id.isdigit():
            raise DataError(f"{name}:{number}: invalid word ID {word_id!r}")
        for column in (token_column, tag_column):
            if column is not None and not fields[column].strip():
                raise DataError(f"{name}:{number}: empty {COLUMNS[column]}")
        yield number, fields[token_column], None if tag_column is None else fields[tag_column]


def read_conllu(
    path: str | Path, token_column: int = 1, tag_column: int | None = 3, encoding: str = "utf-8"
) -> dict[str, list]:
    """Read a whole CoNLL-U file into columns ``tokens``, ``tags`` (unless ``tag_column`` is
    None) and ``line``."""
    path = Path(path)
    with path.open("rb") as handle:
        return sentence_columns(iter_conllu(decode_lines(handle, str(path), encoding), str(path), token_column, tag_column), path)
