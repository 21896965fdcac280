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
        return line.split("\t")
    if "\t" in line:
        raise DataError(f"{name}:{number}: mixed separators: tab in a space-separated file")
    return line.split()


def iter_conll(lines: Iterable[tuple[int, str]], name: str, columns: ColumnFormat) -> Iterator[ColumnSentence]:
    """Sentences from numbered lines; ``-DOCSTART-`` lines and repeated blank lines are skipped.

    All lines must have the same number of columns as the first one.
    """
    separator, width = columns.separator, None
    current: ColumnSentence | None = None
    for number, line in lines:
        if not line.strip():
            if current is not None:
                yield current
            current = None
            continue
        if line.split()[0] == DOCSTART:
            if current is not None:
                yield current
            current = None
            continue
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
        if current is None:
            current = ColumnSentence(number, [], [] if columns.tag_column is not None else None)
        current.tokens.append(fields[columns.token_column])
        if current.tags is not None:
            current.tags.append(fields[columns.tag_column])
    if current is not None:
        yield current


def read_conll(path: str | Path, columns: ColumnFormat) -> dict[str, list]:
    """Read a whole column file into columns ``tokens``, ``tags`` (unless ``tag_column`` is None), ``line``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out: dict[str, list] = {"tokens": [], "tags": [], "line": []}
    with path.open("rb") as handle:
        for sentence in iter_conll(decode_lines(handle, str(path)), str(path), columns):
            out["tokens"].append(sentence.tokens)
            out["tags"].append(sentence.tags)
            out["line"].append(sentence.line)
    if not out["tokens"]:
        raise DataError(f"{path}: no sentences found (empty file?)")
    if columns.tag_column is None:
        del out["tags"]
    return out


def _check_columns(columns: ColumnFormat, width: int, name: str, number: int) -> None:
    for key, index in (("token_column", columns.token_column), ("tag_column", columns.tag_column)):
        if index is not None and not -width <= index < width:
            raise DataError(f"{name}:{number}: data.{key}={index} but the line has {width} columns")
    if columns.tag_column is not None and width < 2:
        raise DataError(f"{name}:{number}: expected a token and a tag column, found 1 column")
