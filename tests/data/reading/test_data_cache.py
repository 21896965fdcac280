"""Local data files are read as they are now: no stale rows from the datasets cache after an
edit that keeps the file's mtime (cp -p, rsync -a, tar), and no copies left in the cache."""

import json
import os
import tempfile
from pathlib import Path

import datasets
import pytest

from birnn_tag.cloze.text import read_text_file
from birnn_tag.config import DataConfig
from birnn_tag.data.reading.sources import load_corpus


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch) -> Path:
    """An empty datasets cache, and an empty temporary folder, for this test alone."""
    cache = tmp_path / "hf_datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return cache


def _jsonl(tag: str) -> str:
    return json.dumps({"tokens": ["Anna", "smiled"], "tags": [tag, "O"]}) + "\n"


def _rewrite_keeping_mtime(path: Path, content: str) -> None:
    before = path.stat()
    path.write_text(content, encoding="utf-8")
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("source", ["train", "hub"])
def test_jsonl_edited_with_its_mtime_kept_is_read_anew(tmp_path, source):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "train.jsonl"
    path.write_text(_jsonl("B-PER"), encoding="utf-8")
    # data.hub may name a local folder; load_dataset() then reads its files like data.train's.
    config = DataConfig(train=str(path)) if source == "train" else DataConfig(hub=str(folder))
    assert load_corpus(config).splits["train"]["tags"] == [["B-PER", "O"]]
    _rewrite_keeping_mtime(path, _jsonl("B-LOC"))
    assert load_corpus(config).splits["train"]["tags"] == [["B-LOC", "O"]]


def test_text_file_edited_with_its_mtime_kept_is_read_anew(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("alpha beta\n", encoding="utf-8")
    assert read_text_file(path, DataConfig())["text"] == ["alpha beta"]
    _rewrite_keeping_mtime(path, "gamma delt\n")
    assert read_text_file(path, DataConfig())["text"] == ["gamma delt"]


def test_reading_leaves_nothing_in_the_datasets_cache(tmp_path, datasets_cache):
    rows = tmp_path / "d.jsonl"
    rows.write_text(_jsonl("B-PER"), encoding="utf-8")
    table = tmp_path / "d.csv"
    table.write_text("tokens,tags\nAnna smiled,B-PER O\n", encoding="utf-8")
    text = tmp_path / "text.txt"
    text.write_text("alpha beta\n", encoding="utf-8")
    corpus = load_corpus(DataConfig(train=str(rows), validation=str(table)))
    loaded = read_text_file(text, DataConfig())
    # The rows are in memory: nothing refers to the files deleted with the temporary cache.
    assert corpus.splits["train"]["tags"] == corpus.splits["validation"]["tags"] == [["B-PER", "O"]]
    assert loaded["text"] == ["alpha beta"]
    assert not datasets_cache.exists() or not any(datasets_cache.iterdir())
    assert not any(Path(tempfile.gettempdir()).iterdir())
