"""Parquet in and out, through pyarrow (which ``datasets`` brings): one column of a table read
lazily, a row group at a time, and records written as row groups of a fixed schema,
so that memory stays flat on any table size and a stopped writer leaves a readable file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from birnn_tag.errors import BirnnTagError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

READ_ROWS = 4_096  # rows decoded into Python objects at a time
WRITE_ROWS = 10_000  # rows per row group written


def read_column(handle: BinaryIO, name: str, column: str, setting: str = "--text-column") -> Iterator[str | list[str]]:
    """The values of ``column`` of the Parquet file ``handle`` (called ``name`` in messages), in
    row order: strings, or lists of strings (tokens). The file and the column are checked now
    (not a file, not Parquet, a missing column or another type is an error naming the file,
    the column and ``setting``); unreadable data and null values when their row is read (naming
    the row, 1-based)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not handle.seekable():
        raise BirnnTagError(f"{name}: Parquet input is read from its end (the footer): give a file, not a pipe or stdin")
    try:
        table = pq.ParquetFile(handle, pre_buffer=False)  # row groups read one at a time: damage stops at its own rows
    except (pa.ArrowException, OSError) as error:
        raise BirnnTagError(f"{name}: not a Parquet file ({first_line(error)})") from None
    schema = table.schema_arrow
    if column not in schema.names:
        raise BirnnTagError(f"{name}: no column {column!r} (has: {', '.join(schema.names)}); choose one with {setting}")
    kind = schema.field(column).type
    strings = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    tokens = (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
        pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)
    )
    if not (strings or tokens):
        raise BirnnTagError(f"{name}: column {column!r} holds {kind}; expected text (string) or tokens (list of strings)")
    return _values(table, name, column)


def _values(table: Any, name: str, column: str) -> Iterator[str | list[str]]:
    """The column's values, a row group at a time (so damaged data stops the values at its own
    row group, after every row before it), decoded :data:`READ_ROWS` at a time."""
    import pyarrow as pa

    row = 0
    for group in range(table.num_row_groups):
        try:
            values = table.read_row_group(group, columns=[column], use_threads=False).column(0)
        except (pa.ArrowException, OSError) as error:
            raise BirnnTagError(f"{name}: after row {row}: unreadable Parquet data ({first_line(error)})") from None
        for start in range(0, len(values), READ_ROWS):
            for value in values.slice(start, READ_ROWS).to_pylist():
                row += 1
                if value is None:
                    raise BirnnTagError(f"{name}: row {row}: {column!r} is null")
                yield value


class RecordWriter:
    """Writes records (dicts; a missing key is null) to a binary stream as Parquet row groups of
    ``schema``; leaving the ``with`` block writes the footer, also when the records stop with an
    error, so what was written stays a readable table."""

    def __init__(self, sink: BinaryIO, schema: pa.Schema, rows: int = WRITE_ROWS) -> None:
        import pyarrow.parquet as pq

        self.schema, self.rows, self.pending = schema, rows, []
        self.writer = pq.ParquetWriter(sink, schema)

    def write(self, record: dict[str, Any]) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.pending:
            self.writer.write_table(pa.Table.from_pylist(self.pending, schema=self.schema))
            self.pending = []

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *stopped: object) -> None:
        try:
            self._flush()
        finally:
            self.writer.close()
