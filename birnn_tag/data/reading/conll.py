"""Reader for CoNLL-style column files: one token per line, blank lines between sentences.

Every problem is reported as ``file:line: message`` so it can be fixed in an editor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from birnn_tag.errors import DataError

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class ColumnFormat:
    """Which columns hold the token and the tag, and how columns are separated."""

    token_column: int = 0
    tag_column: int | None = -1
    separator: str = "auto"  # auto | space | tab


@dataclass
class ColumnSentence:
    """One sentence read from a column file; ``line`` is where it starts."""

    line: int
    tokens: list[str]
    tags: list[str] | None


def decode_lines(handle: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` from a binary stream, naming the line of any non-UTF-8 bytes."""
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{name}:{number}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})"
            ) from None
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the first token
        yield number, text.rstrip("\r\n")


def _split(line: str, separator: str, name: str, number: int) -> list[str]:
    if separator == "tab":
        if "\t" not in line and " " in line.strip():
            raise DataError(f"{name}:{number}: mixed separators: spaces in a tab-separated file")
        # Whitespace at the end of a line (a trailing tab included) is not a column, and spaces
        # typed around a field are not part of it: ``I-ORG `` is ``I-ORG``.
        return [field.strip() for field in line.rstrip().split("\t")]
    if "\t" in line:
        raise DataError(f"{name}:{number}: mixed separators: tab in a space-separated file")
    return line.split()


def group_sentences(words: Iterable[tuple[int, str, str | None] | None], with_tags: bool) -> Iterator[ColumnSentence]:
    """Sentences from a reader's ``(line, token, tag)`` words; None (a blank line) ends a sentence."""
    current: ColumnSentence | None = None
    for word in words:
        if word is None:
            if current is not None:
                yield current
            current = None
            continue
        number, token, tag = word
        if current is None:
            current = ColumnSentence(number, [], [] if with_tags else None)
        current.tokens.append(token)
        if current.tags is not None:
            current.tags.append(tag)
    if current is not None:
        yield current


def iter_conll(lines: Iterable[tuple[int, str]], name: str, columns: ColumnFormat) -> Iterator[ColumnSentence]:
    """Sentences from numbered lines; ``-DOCSTART-`` lines and repeated blank lines are skipped.

    All lines must have the same number of columns as the first one. A ``-DOCSTART-`` line must
    not follow a word directly: it would cut that sentence (and any entity across it) in two.
    """
    return group_sentences(_conll_words(lines, name, columns), columns.tag_column is not None)


def _conll_words(lines: Iterable[tuple[int, str]], name: str, columns: ColumnFormat) -> Iterator[tuple[int, str, str | None] | None]:
    separator, width = columns.separator, None
    sentence_line = None  # where the sentence being read started; None between sentences
    for number, line in lines:
        if not line.strip() or line.split()[0] == DOCSTART:
            if sentence_line is not None and line.strip():
                raise DataError(
                    f"{name}:{number}: {DOCSTART} inside a sentence (the one from line {sentence_line}); "
                    "a blank line must come before it"
                )
            sentence_line = None
            yield None
            continue
        sentence_line = sentence_line or number
        if separator == "auto":
            separator = "tab" if "\t" in line else "space"
        fields = _split(line, separator, name, number)
        if width is None:
            width = len(fields)
            _check_columns(columns, width, name, number)
        if len(fields) != width:
            raise DataError(f"{name}:{number}: expected {width} columns, found {len(fields)}")
        if not fields[columns.token_column].strip():
            raise DataError(f"{name}:{number}: empty token")
        tag = None if columns.tag_column is None else fields[columns.tag_column]
        if tag == "":  # fields are stripped: a tag of spaces is empty too
            raise DataError(f"{name}:{number}: empty tag (column {columns.tag_column % width + 1})")
        yield number, fields[columns.token_column], tag


def read_conll(path: str | Path, columns: ColumnFormat) -> dict[str, list]:
    """Read a whole column file into columns ``tokens``, ``tags`` (unless ``tag_column`` is None), ``line``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as handle:
        return sentence_columns(iter_conll(decode_lines(handle, str(path)), str(path), columns), path)


def sentence_columns(sentences: Iterable[ColumnSentence], path: Path) -> dict[str, list]:
    """A file's sentences as columns ``tokens``, ``tags`` (when they have tags) and ``line``."""
    out: dict[str, list] = {"tokens": [], "tags": [], "line": []}
    for sentence in sentences:
        out["tokens"].append(sentence.tokens)
        out["tags"].append(sentence.tags)
        out["line"].append(sentence.line)
    if not out["tokens"]:
        raise DataError(f"{path}: no sentences found (empty file?)")
    if out["tags"][0] is None:
        del out["tags"]
    return out


def _check_columns(columns: ColumnFormat, width: int, name: str, number: int) -> None:
    for key, index in (("token_column", columns.token_column), ("tag_column", columns.tag_column)):
        if index is not None and not -width <= index < width:
            raise DataError(f"{name}:{number}: data.{key}={index} but the line has {width} columns")
    if columns.tag_column is not None and width < 2:
        raise DataError(f"{name}:{number}: expected a token and a tag column, found 1 column")
