"""Reader for CoNLL-style column files: one token per line, blank lines between sentences.

Every problem is reported as ``file:line: message`` so it can be fixed in an editor.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from itertools import chain
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from birnn_tag.errors import DataError, short_repr

DOCSTART = "-DOCSTART-"
#: The column of a split that says which document each sentence belongs to (equal values next
#: to each other: one document), where its file marks documents.
DOCUMENT_COLUMN = "document"


@dataclass(frozen=True)
class ColumnFormat:
    """Which columns hold the token and the tag, and how columns are separated."""

    token_column: int = 0
    tag_column: int | None = -1
    separator: str = "auto"  # auto | space | tab


@dataclass
class ColumnSentence:
    """One sentence read from a column file; ``line`` is where it starts, ``document`` how many
    document starts (``-DOCSTART-``) came before it: None before the first (in files without
    any, always), where a sentence is a document of its own."""

    line: int
    tokens: list[str]
    tags: list[str] | None
    document: int | None = None


def check_encoding(encoding: str, setting: str) -> None:
    """Refuse an encoding Python does not know, naming ``setting``."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"{setting}: unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252, utf-16)") from None


def decode_lines(
    handle: BinaryIO, name: str, encoding: str = "utf-8", setting: str = "data.encoding"
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` from a binary stream in ``encoding`` (a byte-order mark is
    dropped); bytes that do not decode are an error naming their line and ``setting``, the option
    that picks the encoding.

    Lines are decoded as they arrive, so a pipe is read lazily: one line at a time where a
    newline is the byte ``\n`` (UTF-8, Latin-1, cp1252...), through an incremental decoder where
    it is not (UTF-16, UTF-32).
    """
    check_encoding(encoding, setting)
    if "\n".encode(encoding) == b"\n":
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise DataError(_undecodable(name, number, raw, error, encoding, setting)) from None
            yield number, (text.removeprefix("\ufeff") if number == 1 else text).rstrip("\r\n")
        return
    decoder, pending, number = codecs.getincrementaldecoder(encoding)(), "", 0
    for raw in chain(handle, [b""]):  # b"": the end, where every byte must have been used
        try:
            pending += decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as error:
            raise DataError(_undecodable(name, number + pending.count("\n") + 1, None, error, encoding, setting)) from None
        *lines, pending = pending.split("\n")  # a piece ends at a byte 0x0a, maybe half a character
        if not raw and pending:
            lines.append(pending)
        for line in lines:
            number += 1
            yield number, (line.removeprefix("\ufeff") if number == 1 else line).rstrip("\r")


def _undecodable(
    name: str, number: int, raw: bytes | None, error: UnicodeDecodeError, encoding: str, setting: str
) -> str:
    """The one line for bytes that are not ``encoding``: where, which byte (in the ``raw`` line,
    when lines are decoded whole) and, for UTF-8, which encoding the line reads in."""
    label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    at = "" if raw is None else f" at column {error.start + 1}"
    message = f"{name}:{number}: not valid {label} (byte 0x{error.object[error.start]:02x}{at})"
    if label != "UTF-8" or raw is None:
        return f"{message}; set {setting} to the file's encoding"
    if number == 1 and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return f"{message}; the file starts with a UTF-16 byte-order mark: set {setting}: utf-16"
    # Bytes 0x80-0x9f are control characters in Latin-1 and quotes, dashes... in cp1252.
    guess = "cp1252" if any(0x80 <= byte <= 0x9F for byte in raw) else "latin-1"
    try:
        reads = raw.decode(guess).strip()
    except UnicodeDecodeError:
        return f"{message}; set {setting} to the file's encoding"
    return f"{message}; as {guess} the line reads {short_repr(reads)}: set {setting}: {guess}"


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


#: What a reader yields for a line that starts a document: it ends the sentence as a blank line does.
NEW_DOCUMENT = "new document"


def group_sentences(words: Iterable[tuple[int, str, str | None] | str | None], with_tags: bool) -> Iterator[ColumnSentence]:
    """Sentences from a reader's ``(line, token, tag)`` words; None (a blank line) ends a sentence,
    :data:`NEW_DOCUMENT` ends it and starts the next document."""
    current: ColumnSentence | None = None
    document = 0
    for word in words:
        if word is None or word == NEW_DOCUMENT:
            if current is not None:
                yield current
            current = None
            document += word == NEW_DOCUMENT
            continue
        number, token, tag = word
        if current is None:
            current = ColumnSentence(number, [], [] if with_tags else None, document or None)
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


def _conll_words(lines: Iterable[tuple[int, str]], name: str, columns: ColumnFormat) -> Iterator[tuple[int, str, str | None] | str | None]:
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
            yield NEW_DOCUMENT if line.strip() else None
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


def read_conll(path: str | Path, columns: ColumnFormat, encoding: str = "utf-8") -> dict[str, list]:
    """Read a whole column file into columns ``tokens``, ``tags`` (unless ``tag_column`` is None), ``line``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as handle:
        return sentence_columns(iter_conll(decode_lines(handle, str(path), encoding), str(path), columns), path)


def sentence_columns(sentences: Iterable[ColumnSentence], path: Path) -> dict[str, list]:
    """A file's sentences as columns ``tokens``, ``tags`` (when they have tags), ``line`` and,
    when the file marks documents, ``document`` (:data:`DOCUMENT_COLUMN`)."""
    out: dict[str, list] = {"tokens": [], "tags": [], "line": [], DOCUMENT_COLUMN: []}
    for sentence in sentences:
        out["tokens"].append(sentence.tokens)
        out["tags"].append(sentence.tags)
        out["line"].append(sentence.line)
        out[DOCUMENT_COLUMN].append(sentence.document)
    if not out["tokens"]:
        raise DataError(f"{path}: no sentences found (empty file?)")
    if out["tags"][0] is None:
        del out["tags"]
    if all(document is None for document in out[DOCUMENT_COLUMN]):
        del out[DOCUMENT_COLUMN]
    return out


def _check_columns(columns: ColumnFormat, width: int, name: str, number: int) -> None:
    for key, index in (("token_column", columns.token_column), ("tag_column", columns.tag_column)):
        if index is not None and not -width <= index < width:
            raise DataError(f"{name}:{number}: data.{key}={index} but the line has {width} columns")
    if columns.tag_column is not None and width < 2:
        raise DataError(f"{name}:{number}: expected a token and a tag column, found 1 column")
