"""Files in the encodings corpora come in: ``data.encoding`` for every reader, ``predict
--encoding``, and a UTF-8 error that names the setting and how the line reads instead."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import DataConfig, config_from_dict
from birnn_tag.data.reading.sources import load_corpus
from birnn_tag.errors import BirnnTagError, DataError
from conftest import tiny_config_dict

ACCENTED = "Jos\u00e9 B-PER\nMu\u00f1oz I-PER\nvisit\u00f3 O\nM\u00e1laga B-LOC\n. O\n\nAnna B-PER\nsmiled O\n. O\n"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-8-sig"])
def test_a_training_file_in_another_encoding_reads_as_its_utf8_twin(tmp_path, encoding):
    twin, other = tmp_path / "utf8.conll", tmp_path / "other.conll"
    twin.write_bytes(ACCENTED.encode("utf-8"))
    other.write_bytes(ACCENTED.encode(encoding))
    expected = load_corpus(DataConfig(train=str(twin))).splits["train"][:]
    read = load_corpus(DataConfig(train=str(other), encoding=encoding)).splits["train"][:]
    assert read == expected and read["tokens"][0] == ["Jos\u00e9", "Mu\u00f1oz", "visit\u00f3", "M\u00e1laga", "."]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_tables_are_decoded_in_data_encoding(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".jsonl":
        text = json.dumps({"tokens": ["Jos\u00e9", "sang"], "tags": ["B-PER", "O"]}, ensure_ascii=False) + "\n"
    else:
        text = "tokens,tags\nJos\u00e9 sang,B-PER O\n"
    path.write_bytes(text.encode("latin-1"))
    tokens = load_corpus(DataConfig(train=str(path), encoding="latin-1")).splits["train"]["tokens"]
    assert tokens[0][0] == "Jos\u00e9"
    with pytest.raises(DataError, match=rf"t{suffix}:\d: not valid UTF-8 \(byte 0xe9 at column \d+\); as latin-1 the line reads .*Jos\u00e9.*: set data.encoding: latin-1"):
        load_corpus(DataConfig(train=str(path)))


def test_a_latin1_file_read_as_utf8_names_the_line_the_setting_and_how_it_reads(tmp_path):
    path = tmp_path / "eng.train"
    path.write_bytes(ACCENTED.encode("latin-1"))
    with pytest.raises(DataError) as caught:
        load_corpus(DataConfig(train=str(path)))
    assert str(caught.value) == (
        f"{path}:1: not valid UTF-8 (byte 0xe9 at column 4); as latin-1 the line reads 'Jos\u00e9 B-PER': set data.encoding: latin-1"
    )
    # Smart quotes (bytes 0x93 0x94) are cp1252, not Latin-1 control characters.
    path.write_bytes("\u201cHi\u201d O\n".encode("cp1252"))
    with pytest.raises(DataError, match=r":1: not valid UTF-8 \(byte 0x93 at column 1\); as cp1252 the line reads '\u201cHi\u201d O': set data.encoding: cp1252"):
        load_corpus(DataConfig(train=str(path)))
    path.write_bytes(ACCENTED.encode("utf-16"))
    with pytest.raises(DataError, match=r":1: .*UTF-16 byte-order mark: set data.encoding: utf-16"):
        load_corpus(DataConfig(train=str(path)))


@pytest.fixture(scope="module")
def accented_run(tmp_path_factory):
    """A tagger trained on a Latin-1 file (data.encoding: latin-1)."""
    folder = tmp_path_factory.mktemp("latin1")
    data = folder / "train.conll"
    data.write_bytes(ACCENTED.encode("latin-1"))
    raw = tiny_config_dict(data, folder / "run", epochs=30)
    raw["data"]["encoding"] = "latin-1"
    birnn_tag.train(config_from_dict(raw))
    return folder / "run"


def test_a_run_trained_on_latin1_tags_latin1_input_given_its_encoding(accented_run, tmp_path):
    text = "Jos\u00e9 Mu\u00f1oz visit\u00f3 M\u00e1laga .\n"
    utf8, latin1 = tmp_path / "in.txt", tmp_path / "in-latin1.txt"
    utf8.write_text(text, encoding="utf-8")
    latin1.write_bytes(text.encode("latin-1"))
    runner = CliRunner()
    expected = runner.invoke(app, ["predict", str(accented_run), str(utf8), "--format", "jsonl"])
    assert expected.exit_code == 0, expected.output
    assert json.loads(expected.stdout)["spans"][0]["text"] == "Jos\u00e9 Mu\u00f1oz"
    given = runner.invoke(app, ["predict", str(accented_run), str(latin1), "--format", "jsonl", "--encoding", "latin-1"])
    assert given.exit_code == 0 and given.stdout == expected.stdout
    refused = runner.invoke(app, ["predict", str(accented_run), str(latin1), "--format", "jsonl"])
    assert refused.exit_code != 0
    assert "in-latin1.txt:1: not valid UTF-8 (byte 0xe9 at column 4); as latin-1 the line reads" in refused.output
    assert "set --encoding: latin-1" in refused.output
    unknown = runner.invoke(app, ["predict", str(accented_run), str(utf8), "--encoding", "latin-42"])
    assert unknown.exit_code != 0 and "--encoding: unknown encoding 'latin-42'" in unknown.output


def test_the_api_reads_utf16_input(accented_run, tmp_path):
    tagger = birnn_tag.load(accented_run, device="cpu")
    path = tmp_path / "in16.conll"
    path.write_bytes("Jos\u00e9\nMu\u00f1oz\n\nAnna\n".encode("utf-16"))
    with path.open("rb") as handle:
        sentences = [s.tokens for s in tagger.read_inputs(handle, "in16.conll", "conll", encoding="utf-16")]
    assert sentences == [["Jos\u00e9", "Mu\u00f1oz"], ["Anna"]]
    with pytest.raises(BirnnTagError, match=r"encoding: unknown encoding 'x-nope'"), path.open("rb") as handle:
        tagger.read_inputs(handle, "in16.conll", "conll", encoding="x-nope")
