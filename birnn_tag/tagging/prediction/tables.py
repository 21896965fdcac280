"""Predictions as a Parquet table (``predict --format parquet``, the Ray Data tagger): the
columns of :meth:`~birnn_tag.tagging.prediction.streaming.Prediction.to_record`, one schema for
every run and every part of an input, so that parts concatenate and tables of two runs union."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def record_schema() -> pa.Schema:
    """text, tokens, tags, confidences (null without them) and spans (null for labels without
    spans; a span's confidence is null without confidences)."""
    import pyarrow as pa

    span = pa.struct([
        ("type", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
        ("token_start", pa.int64()), ("token_end", pa.int64()), ("confidence", pa.float64()),
    ])
    return pa.schema([
        ("text", pa.string()), ("tokens", pa.list_(pa.string())), ("tags", pa.list_(pa.string())),
        ("confidences", pa.list_(pa.float64())), ("spans", pa.list_(span)),
    ])
