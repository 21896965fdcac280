"""Pretrained word vectors: GloVe, word2vec text and fastText ``.vec`` files, plain or gzip-compressed.

Formats read (UTF-8, one vector per line, fields separated by spaces)::

    GloVe              the 0.418 0.24968 ... -0.78581          no header
    word2vec / .vec    400000 50                               header: vector count, dimension
                       the 0.418 0.24968 ... -0.78581 ␣        fastText ends each line with a space

Gzip compression is recognised by the file's magic bytes, whatever its name. A line may end in
spaces or a carriage return; blank lines are skipped; a UTF-8 byte-order mark is ignored.

Speed comes from (1) reading the decompressed bytes in 8 MiB blocks of whole lines and never
decoding the numbers to ``str``, (2) looking at a line's word before touching its numbers, so a
``wanted`` filter makes the numbers of unwanted lines cost nothing but a space count, and
(3) parsing all kept numbers of a block in one call to Arrow's CSV reader (``pyarrow`` comes with
``datasets``). On a 2-core CPU the full 400k × 50 GloVe 6B ``.gz`` loads in about 3 s and a
CoNLL-vocabulary-filtered load in about 1.5 s, most of it decompression. Memory stays at about
one block plus the result.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import torch

from birnn_tag.data.vocab import PAD, UNK
from birnn_tag.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
# Big enough that per-block overhead vanishes, small enough that memory stays flat on huge files.
_BLOCK_BYTES = 8 << 20


def read_vectors(path: str | Path, wanted: set[str] | None = None) -> tuple[list[str], torch.Tensor]:
    """Read a vector file, keeping only the words in ``wanted`` (all words when None).

    Every line is checked (UTF-8, number count) whether or not its word is wanted, so a file is
    accepted or refused the same way with any filter; the numbers are parsed for kept lines only.

    Returns:
        The kept words in file order (duplicates kept as they appear) and their vectors, a float32
        tensor of shape ``(len(words), dim)``; ``(0, dim)`` when no word is wanted.

    Raises:
        DataError: ``path: file not found`` / ``file is empty`` / ``no vectors found``, or
            ``path:line: ...`` for a line that is not UTF-8, has the wrong number of values or a
            value that is not a number.
    """
    table = _read_table(Path(path), wanted, parse_values=True)
    assert table.values is not None
    return table.words, torch.from_numpy(table.values)


def pretrained_words(path: str | Path) -> set[str]:
    """Every word that has a vector in ``path`` (lines are checked as in :func:`read_vectors`).

    Meant for building a vocabulary that also holds the pretrained words seen in any data split:
    the caller intersects this set with the words of its splits.
    """
    return set(_read_table(Path(path), None, parse_values=False).words)


def embedding_matrix(
    vocab_items: list[str], path: str | Path, *, lowercase_fallback: bool = True, seed: int = 0
) -> tuple[torch.Tensor, int]:
    """Initial weights of a word embedding for a vocabulary whose ids 0 and 1 are ``<pad>``, ``<unk>``.

    Row ``i`` is the vector of ``vocab_items[i]``, else (with ``lowercase_fallback``) the vector of
    its lowercased form, else a random vector drawn uniformly from ±sqrt(3 / dim) (Lample et al. 2016,
    Ma & Hovy 2016: the variance of a unit-variance-per-token input). The ``<pad>`` row is zeros and
    the ``<unk>`` row always random: it stands for words nobody has a vector for. When a word occurs
    more than once in the file, its first vector wins. Words are looked up as given (lowercasing or
    digit normalisation of the vocabulary is the caller's choice).

    The random rows come from a ``torch.Generator`` seeded with ``seed`` and are drawn for every row
    before the pretrained ones are copied in, so a word's random vector depends only on ``seed``, its
    id and ``dim``, not on which other words the file happens to cover.

    Returns:
        The ``(len(vocab_items), dim)`` float32 matrix and how many vocabulary words (specials not
        counted) got a pretrained vector.
    """
    if list(vocab_items[:2]) != [PAD, UNK]:
        raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}; got {vocab_items[:2]!r}")
    words = vocab_items[2:]
    wanted = set(words)
    if lowercase_fallback:
        wanted |= {word.lower() for word in words}
    found_words, vectors = read_vectors(path, wanted)
    row_of: dict[str, int] = {}
    for row, word in enumerate(found_words):
        row_of.setdefault(word, row)

    dim = vectors.shape[1]
    bound = math.sqrt(3.0 / dim)
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.empty(len(vocab_items), dim).uniform_(-bound, bound, generator=generator)
    matrix[0] = 0.0
    targets, sources = [], []
    for index, word in enumerate(words, start=2):
        row = row_of.get(word)
        if row is None and lowercase_fallback:
            row = row_of.get(word.lower())
        if row is not None:
            targets.append(index)
            sources.append(row)
    matrix[torch.tensor(targets, dtype=torch.long)] = vectors[torch.tensor(sources, dtype=torch.long)]
    return matrix, len(targets)


@dataclass
class _Table:
    """What a pass over a vector file kept: words, and their ``(n, dim)`` values when parsed."""

    words: list[str]
    values: np.ndarray | None


@dataclass
class _Layout:
    """The vector size, and the vector count the header promised (None for GloVe, which has none)."""

    dim: int
    declared: int | None


def _read_table(path: Path, wanted: set[str] | None, *, parse_values: bool) -> _Table:
    name = str(path)
    # Compare encoded words: equal UTF-8 bytes <=> equal strings, and no line's word is decoded
    # unless it is kept.
    wanted_bytes = None if wanted is None else {word.encode("utf-8") for word in wanted}
    layout: _Layout | None = None
    words: list[bytes] = []
    blocks: list[np.ndarray] = []
    rows = 0
    with _open_vectors(path) as handle:
        for first, lines in _line_blocks(handle, name):
            if layout is None:
                layout, skip = _find_layout(lines, first, name)
                lines, first = lines[skip:], first + skip
                if layout is None:
                    continue
            scan = _scan_lines(lines, first, layout.dim, wanted_bytes, name)
            rows += scan.rows
            words += scan.words
            if parse_values:
                blocks.append(_parse_values(scan.values, scan.numbers, layout.dim, name))
    if layout is None or rows == 0:
        raise DataError(f"{name}: no vectors found (empty file?)")
    if layout.declared is not None and layout.declared != rows:
        raise DataError(f"{name}: the header says {layout.declared} vectors but the file has {rows}")
    values = None
    if parse_values:
        values = np.concatenate(blocks) if blocks else np.empty((0, layout.dim), dtype=np.float32)
    # One decode for all kept words (no word holds a newline) instead of one per word.
    text = b"\n".join(words).decode("utf-8")
    return _Table(text.split("\n") if words else [], values)


def _open_vectors(path: Path) -> BinaryIO:
    """A binary stream of the file's text, decompressed when the file starts with gzip's magic bytes."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


def _line_blocks(handle: BinaryIO, name: str) -> Iterator[tuple[int, list[bytes]]]:
    """Yield ``(number of the first line, lines)`` for blocks of whole lines, checked to be UTF-8.

    A block ends at a newline, so no line (nor UTF-8 character: 0x0A is never part of a multibyte
    one) is ever split between two blocks.
    """
    number, pending, start = 1, b"", True
    while True:
        try:
            chunk = handle.read(_BLOCK_BYTES)
        except (OSError, EOFError, zlib.error) as error:  # corrupt or truncated gzip data
            raise DataError(f"{name}: cannot read: {error}") from None
        if start and chunk.startswith(_UTF8_BOM):
            chunk = chunk[len(_UTF8_BOM) :]
        start = False
        buffer = pending + chunk
        if chunk:
            cut = buffer.rfind(b"\n")
            if cut < 0:
                pending = buffer
                continue
            text, pending = buffer[:cut], buffer[cut + 1 :]
        else:
            text, pending = buffer, b""
        _check_utf8(text, number, name)
        lines = text.split(b"\n")
        yield number, lines
        number += len(lines)
        if not chunk:
            return


def _check_utf8(text: bytes, first: int, name: str) -> None:
    if text.isascii():  # the common case, and far cheaper than decoding
        return
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = text.rfind(b"\n", 0, error.start) + 1
        number = first + text.count(b"\n", 0, error.start)
        raise DataError(
            f"{name}:{number}: not valid UTF-8 "
            f"(byte 0x{text[error.start]:02x} at column {error.start - line_start + 1})"
        ) from None


def _find_layout(lines: list[bytes], first: int, name: str) -> tuple[_Layout | None, int]:
    """The layout from the first non-blank line, and how many lines to skip (the header, if any).

    A first line of exactly two integers is a word2vec/fastText header ``count dim``; otherwise
    the first line is a vector and its number of values is the dimension.
    """
    for index, line in enumerate(lines):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            dim, skip, declared = int(fields[1]), index + 1, int(fields[0])
        else:
            dim, skip, declared = len(fields) - 1, index, None
        if dim < 1:
            raise DataError(f"{name}:{first + index}: expected a word and its vector, found {len(fields)} field(s)")
        return _Layout(dim, declared), skip
    return None, len(lines)


@dataclass
class _Scan:
    """The kept lines of one block: words, the text of their values and their line numbers."""

    words: list[bytes]
    values: list[bytes]
    numbers: list[int]
    rows: int  # vectors seen in the block, kept or not


def _scan_lines(lines: list[bytes], first: int, dim: int, wanted: set[bytes] | None, name: str) -> _Scan:
    """Check every line's value count and keep the wanted ones, without parsing any number."""
    scan = _Scan([], [], [], 0)
    for number, line in enumerate(lines, start=first):
        line = line.rstrip()  # fastText's trailing space, Windows' "\r"
        if not line:
            continue
        cut = line.find(b" ")
        # Fast path for the usual layout, fields separated by single spaces: then "word v1 ... vd"
        # holds exactly dim spaces. Anything else (tabs, runs of spaces) is split the slow way.
        if cut > 0 and line.count(b" ") == dim and b"\t" not in line and b"  " not in line:
            word, values = line[:cut], line[cut + 1 :]
        else:
            fields = line.split()
            if len(fields) - 1 != dim:
                raise DataError(f"{name}:{number}: expected {dim} values after the word, found {len(fields) - 1}")
            word, values = fields[0], b" ".join(fields[1:])
        scan.rows += 1
        if wanted is not None and word not in wanted:
            continue
        scan.words.append(word)
        scan.values.append(values)
        scan.numbers.append(number)
    return scan


def _parse_values(values: list[bytes], numbers: list[int], dim: int, name: str) -> np.ndarray:
    """Parse the value texts of one block into a ``(len(values), dim)`` float32 array.

    Arrow's CSV reader parses floats about 3x faster than numpy; numpy's parser is the reference
    (both accept the same spellings: ``1e-05``, ``.5``, ``nan``, ``inf``), run when Arrow refuses
    a block, and the slow line-by-line search runs only to name a bad line.
    """
    if not values:
        return np.empty((0, dim), dtype=np.float32)
    text = b"\n".join(values) + b"\n"  # Arrow cannot read a single unterminated line
    parsed = _parse_with_arrow(text, len(values), dim)
    if parsed is not None:
        return parsed
    try:
        flat = np.fromstring(text, dtype=np.float32, sep=" ")  # any whitespace separates
    except ValueError:  # a token that is not a number; found and named below
        flat = None
    if flat is None or flat.size != len(values) * dim:
        _raise_for_bad_line(values, numbers, dim, name)
    return flat.reshape(len(values), dim)


def _parse_with_arrow(text: bytes, rows: int, dim: int) -> np.ndarray | None:
    """``rows`` lines of ``dim`` space-separated floats, or None if Arrow reads anything else."""
    read = pa_csv.ReadOptions(
        autogenerate_column_names=True, use_threads=False, block_size=len(text) + 1  # one chunk per column
    )
    # Plain numbers only: no quoting, no escapes, and no string (such as "") read as null.
    parse = pa_csv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False, double_quote=False)
    convert = pa_csv.ConvertOptions(
        column_types={f"f{i}": pa.float32() for i in range(dim)}, null_values=[], strings_can_be_null=False
    )
    try:
        table = pa_csv.read_csv(io.BytesIO(text), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid:
        return None
    # Arrow also breaks lines at "\r" and skips empty ones: insist on exactly the expected shape.
    if table.num_rows != rows or table.num_columns != dim:
        return None
    return np.column_stack([column.to_numpy() for column in table.columns]).astype(np.float32, copy=False)


def _raise_for_bad_line(values: list[bytes], numbers: list[int], dim: int, name: str) -> None:
    """Find the line a whole-block parse choked on (slow, but only ever run to report an error)."""
    for text, number in zip(values, numbers):
        tokens = text.split()
        for token in tokens:
            try:
                is_number = np.fromstring(token, dtype=np.float32, sep=" ").size == 1
            except ValueError:
                is_number = False
            if not is_number:
                raise DataError(f"{name}:{number}: not a number: {token.decode('utf-8')!r}")
        if len(tokens) != dim:
            raise DataError(f"{name}:{number}: expected {dim} values after the word, found {len(tokens)}")
    raise DataError(f"{name}: cannot parse the vectors")  # unreachable unless numpy changes its parser
