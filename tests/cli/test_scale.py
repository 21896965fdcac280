"""Tagging more text than one job holds: ``predict --shard I/N`` parts that concatenate to the
whole output, Parquet in and out (equal to JSONL), and their refusals."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from birnn_tag.data.sharding import Shard
from birnn_tag.data.tables import read_column
from birnn_tag.errors import BirnnTagError
from test_cli import invoke, one_line_error

LINES = ["Anna Berg visited Oslo.", "", "Tom flew to Paris.", "Berlin", "Anna met Tom in Oslo .", "Paris is big.", "Tom"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("".join(line + "\n" for line in LINES))
    return path


def predict(run, source, out, *options):
    result = invoke("predict", run, source, "-o", out, "--device", "cpu", *options)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("output_format", ["conll", "jsonl"])
def test_shards_concatenate_to_the_whole_output_byte_for_byte(tmp_path, trained_run, text, output_format):
    whole = predict(trained_run, text, tmp_path / "whole", "--format", output_format).read_bytes()
    for count in (3, 9):  # 9 parts of 7 lines: some parts are empty
        parts = [predict(trained_run, text, tmp_path / f"part-{i}", "--format", output_format, "--shard", f"{i}/{count}").read_bytes()
                 for i in range(count)]
        assert b"".join(parts) == whole
        assert sum(bool(part) for part in parts) == min(count, len(LINES))


@pytest.mark.parametrize("value", ["3/3", "-1/2", "1", "a/b", "1/0"])
def test_bad_shard_is_one_line(trained_run, text, value):
    one_line_error(invoke("predict", trained_run, text, "--shard", value), "--shard: expected I/N with 0 <= I < N")


def test_shard_of_stdin_is_refused(trained_run):
    one_line_error(invoke("predict", trained_run, "-", "--shard", "0/2", input="Tom\n"), "--shard: reads the input twice")


def test_parquet_in_and_out_equal_jsonl(tmp_path, trained_run, text):
    jsonl = [json.loads(line) for line in predict(trained_run, text, tmp_path / "out.jsonl", "--format", "jsonl").read_text().splitlines()]
    table = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(len(LINES))), "sentence": LINES}), table, row_group_size=3)
    out = predict(trained_run, table, tmp_path / "out.parquet", "--text-column", "sentence", "--format", "parquet")
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == len(LINES)
    for row, record in zip(rows, jsonl):
        assert {key: value for key, value in row.items() if key in record} == record
    # Parts of a table concatenate to the whole table; a column of token lists is tagged as tokens.
    parts = [pq.read_table(predict(trained_run, table, tmp_path / f"part-{i}.parquet", "--text-column", "sentence",
                                   "--format", "parquet", "--shard", f"{i}/2")) for i in range(2)]
    assert pa.concat_tables(parts).equals(pq.read_table(out))
    tokens = tmp_path / "tokens.parquet"
    pq.write_table(pa.table({"text": [["Tom", "flew", "to", "Paris", "."]]}), tokens)
    row = pq.read_table(predict(trained_run, tokens, tmp_path / "tokens.out.parquet", "--format", "parquet")).to_pylist()[0]
    assert row["tokens"] == ["Tom", "flew", "to", "Paris", "."] and row["tags"][0] == "B-PER"


def test_parquet_refusals_name_file_row_and_column(tmp_path, trained_run, text):
    table = tmp_path / "in.parquet"
    pq.write_table(pa.table({"sentence": ["Tom", None], "n": [1, 2]}), table)
    one_line_error(invoke("predict", trained_run, table), "in.parquet: no column 'text' (has: sentence, n); choose one with --text-column")
    one_line_error(invoke("predict", trained_run, table, "--text-column", "n"), "in.parquet: column 'n' holds int64; expected text")
    one_line_error(invoke("predict", trained_run, table, "--text-column", "sentence"), "in.parquet: row 2: 'sentence' is null")
    one_line_error(invoke("predict", trained_run, text, "--format", "parquet"), "--format parquet: writes a file; give one with -o FILE")
    one_line_error(invoke("predict", trained_run, text, "--text-column", "x"), "--text-column: names the column of Parquet input")
    one_line_error(invoke("predict", trained_run, text, "--input-format", "parquet"), "in.txt: not a Parquet file")
    # Known before any row: no output file at all; a pipe cannot be read from its end.
    one_line_error(invoke("predict", trained_run, table, "--text-column", "x", "-o", tmp_path / "o.parquet", "--format", "parquet"),
                   "no column 'x'")
    assert not list(tmp_path.glob("o.parquet*"))
    read, write = os.pipe()
    os.close(write)
    with os.fdopen(read, "rb") as pipe, pytest.raises(BirnnTagError, match="<stdin>: Parquet input is read from its end"):
        read_column(pipe, "<stdin>", "text")


def test_damaged_parquet_data_is_named_and_keeps_the_rows_before(tmp_path, trained_run):
    table = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": [f"Tom met Anna {i}" for i in range(9000)]}), table, row_group_size=4096,
                   compression="none", use_dictionary=False)
    data = bytearray(table.read_bytes())
    middle = pq.ParquetFile(table).metadata.row_group(1).column(0).data_page_offset
    data[middle : middle + 64] = b"\xff" * 64
    table.write_bytes(bytes(data))
    result = invoke("predict", trained_run, table, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    one_line_error(result, "big.parquet: after row 4096: unreadable Parquet data")
    assert len((tmp_path / "out.jsonl.partial").read_text().splitlines()) == 4096


def test_pretokenized_parquet_text_is_split_on_whitespace(tmp_path, trained_run):
    table = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["Tom flew to Paris."]}), table)
    out = predict(trained_run, table, tmp_path / "out.parquet", "--format", "parquet", "--pretokenized")
    assert pq.read_table(out).to_pylist()[0]["tokens"] == ["Tom", "flew", "to", "Paris."]


def test_shard_bounds_cover_every_position_once():
    for total in range(12):
        for count in range(1, 6):
            bounds = [Shard(index, count).bounds(total) for index in range(count)]
            assert bounds[0][0] == 0 and bounds[-1][1] == total
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            assert max(stop - start for start, stop in bounds) - min(stop - start for start, stop in bounds) <= 1
