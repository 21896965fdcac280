"""Parquet in and out, through pyarrow (which ``datasets`` brings): one column of a table read
lazily, a batch of row groups at a time, and records written as row groups of a fixed schema,
so that memory stays flat on any table size and a stopped writer leaves a readable file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from birnn_tag.errors import BirnnTagError

if TYPE_CHECKING:
    import pyarrow as pa

READ_ROWS = 4_096  # rows decoded at a time
WRITE_ROWS = 10_000  # rows per row group written


def read_column(handle: BinaryIO, name: str, column: str, setting: str = "--text-column") -> Iterator[str | list[str]]:
    """The values of ``column`` of the Parquet file ``handle`` (called ``name`` in messages), in
    row order: strings, or lists of strings (tokens). A missing column, another type or a null
    value is an error naming the file (and the row, 1-based), the column and ``setting``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError) as error:
        raise BirnnTagError(f"{name}: not a Parquet file ({error})") from None
    schema = table.schema_arrow
    if column not in schema.names:
        raise BirnnTagError(f"{name}: no column {column!r} (has: {', '.join(schema.names)}); choose one with {setting}")
    kind = schema.field(column).type
    strings = (pa.types.is_string(kind) or pa.types.is_large_string(kind))
    tokens = (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
        pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)
    )
    if not (strings or tokens):
        raise BirnnTagError(f"{name}: column {column!r} holds {kind}; expected text (string) or tokens (list of strings)")
    row = 0
    for batch in table.iter_batches(batch_size=READ_ROWS, columns=[column]):
        for value in batch.column(0).to_pylist():
            row += 1
            if value is None:
                raise BirnnTagError(f"{name}: row {row}: {column!r} is null")
            yield value


class RecordWriter:
    """Writes records (dicts; a missing key is null) to a binary stream as Parquet row groups of
    ``schema``. :meth:`close` writes the footer: call it also when the records stop with an
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

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.writer.close()
