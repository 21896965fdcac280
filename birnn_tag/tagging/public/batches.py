"""Tagging inside a distributed data engine: a callable that tags one column of a table batch.

Ray Data (``map_batches`` with a class: each worker builds one and keeps its model) and Spark
(``mapInPandas``) hand a function a batch of rows at a time; :class:`BatchTagger` answers each
batch with its columns plus the predictions' (those of ``predict --format parquet``). The
engines schedule, retry and scale the workers; birnn-tag keeps no process pool of its own. An
export folder (``birnn-tag export``) makes the workers torch-free: onnxruntime alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.public.base import TaggingBase

#: The columns a batch gains (a column of the batch with one of these names is replaced).
PREDICTION_COLUMNS = ("tokens", "tags", "confidences", "spans")


class BatchTagger:
    """Tags ``text_column`` of each batch (text, tokenized like ``predict``'s text input, or
    lists of tokens; on whitespace when ``pretokenized``) with the model at ``model`` (a run
    folder, checkpoint, export folder or ``hf://`` name; loaded once, on the CPU), or with an
    already loaded tagger.

    A batch is a ``pyarrow.Table``, a ``pandas.DataFrame`` or a mapping of column names to
    arrays (Ray Data's default numpy batches); the answer is the same kind, with the batch's
    columns and :data:`PREDICTION_COLUMNS`, row for row.
    """

    def __init__(
        self, model: str | Path | TaggingBase, text_column: str = "text", *, pretokenized: bool = False, batch_size: int = 256
    ) -> None:
        if not isinstance(model, TaggingBase):
            from birnn_tag.api import load

            model = load(model, device="cpu")
        if not isinstance(model, TaggingBase):
            raise BirnnTagError(f"BatchTagger: tags with a tagger; this is a {model.task} model")
        self.model, self.text_column, self.pretokenized, self.batch_size = model, text_column, pretokenized, batch_size

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if isinstance(batch, Mapping):  # Ray's numpy batches: other columns (tensors too) pass as they are
            if self.text_column not in batch:
                raise BirnnTagError(f"BatchTagger: the batch has no column {self.text_column!r} (has: {', '.join(batch)})")
            tagged = self._tag(list(batch[self.text_column]))
            return {**{name: value for name, value in batch.items() if name not in PREDICTION_COLUMNS},
                    **{name: tagged.column(name).to_numpy(zero_copy_only=False) for name in PREDICTION_COLUMNS}}
        frame = not isinstance(batch, pa.Table)  # a pandas DataFrame
        table = pa.Table.from_pandas(batch, preserve_index=False) if frame else batch
        if self.text_column not in table.column_names:
            raise BirnnTagError(f"BatchTagger: the batch has no column {self.text_column!r} (has: {', '.join(table.column_names)})")
        tagged = self._tag(table.column(self.text_column).to_pylist())
        for name in PREDICTION_COLUMNS:
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, tagged.column(name))
        return table.to_pandas() if frame else table

    def _tag(self, values: list[Any]) -> Any:
        """The predictions of a column's values as a table of :meth:`table_schema`."""
        import pyarrow as pa

        rows = []
        for row, value in enumerate(values, start=1):
            if value is None:
                raise BirnnTagError(f"BatchTagger: row {row} of the batch: {self.text_column!r} is null")
            rows.append(value if isinstance(value, str) else [str(token) for token in value])
        predictions = self.model.tag_stream(rows, pretokenized=self.pretokenized, batch_size=self.batch_size)
        return pa.Table.from_pylist([prediction.to_record() for prediction in predictions], schema=self.model.table_schema())
