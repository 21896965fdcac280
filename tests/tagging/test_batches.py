"""Tagging in a distributed engine: Ray Data's ``map_batches`` with :class:`birnn_tag.BatchTagger`
(local mode, two workers, each loading the torch-free export once) gives what ``predict``
gives; the tagger also answers pandas data frames (Spark's ``mapInPandas``) and numpy batches."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.api import export
from birnn_tag.cli.app import app

LINES = ["Anna Berg visited Oslo.", "", "Tom flew to Paris.", "Berlin", "Anna met Tom in Oslo .", "Paris is big."] * 7


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    folder, _ = export(trained_run, tmp_path_factory.mktemp("ray") / "export")
    return folder


def predicted(run, tmp_path):
    table = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(len(LINES))), "text": LINES}), table)
    result = CliRunner().invoke(app, ["predict", str(run), str(table), "-o", str(tmp_path / "out.parquet"), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    return pq.read_table(tmp_path / "out.parquet")


def test_ray_data_map_batches_tags_as_predict_does(exported, tmp_path):
    expected = predicted(exported, tmp_path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        rows = (
            ray.data.from_items([{"id": i, "text": line} for i, line in enumerate(LINES)], override_num_blocks=4)
            .map_batches(birnn_tag.BatchTagger, fn_constructor_kwargs={"model": str(exported)}, batch_size=8,
                         batch_format="pyarrow", concurrency=2)
            .take_all()
        )
    finally:
        ray.shutdown()
    assert [row["id"] for row in rows] == list(range(len(LINES)))
    for column in ("tokens", "tags", "confidences", "spans"):
        assert [row[column] for row in rows] == expected.column(column).to_pylist(), column


def test_data_frames_and_numpy_batches_keep_their_columns(trained_run, tmp_path):
    import numpy as np

    tagger = birnn_tag.BatchTagger(trained_run, "sentence")
    expected = predicted(trained_run, tmp_path).select(["tokens", "tags", "confidences", "spans"]).to_pylist()
    frame = tagger(pa.table({"id": list(range(len(LINES))), "sentence": LINES}).to_pandas())
    assert list(frame.columns) == ["id", "sentence", "tokens", "tags", "confidences", "spans"]
    assert frame["id"].tolist() == list(range(len(LINES)))
    assert pa.Table.from_pandas(frame).select(["tags"]).to_pylist() == [{"tags": row["tags"]} for row in expected]
    # Numpy batches (Ray's default) keep every column as it is, tensors too.
    vectors = np.zeros((len(LINES), 4))
    answered = tagger({"sentence": np.array(LINES, dtype=object), "vector": vectors})
    assert answered["vector"] is vectors and answered["sentence"].tolist() == LINES
    assert [list(tags) for tags in answered["tags"]] == [row["tags"] for row in expected]
    with pytest.raises(birnn_tag.BirnnTagError, match="the batch has no column 'sentence' \\(has: text\\)"):
        tagger({"text": np.array(LINES, dtype=object)})
