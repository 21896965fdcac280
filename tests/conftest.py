"""Shared fixtures: tiny data files and configs written into a temporary folder per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from birnn_tag.runtime.devices import has_native_bf16

FIXTURES = Path(__file__).parent / "fixtures"
# bf16 kernels run only where the CPU multiplies bf16 natively; elsewhere bf16 is refused (tested).
needs_native_bf16 = pytest.mark.skipif(not has_native_bf16(torch.device("cpu")), reason="this CPU has no native bf16")
# The cloze run's text: three sentences, memorised by the model.
SENTENCES = [
    "joe likes eggs , especially fried , scrambled or poached .",
    "anna drives old cars and repairs their engines .",
    "tom writes down ideas about music in a notebook .",
]


@pytest.fixture
def tiny_conll(tmp_path: Path) -> Path:
    """A copy of the 5-sentence IOB1 CoNLL fixture."""
    target = tmp_path / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", target)
    return target


def tiny_config_dict(data_file: Path, run_dir: Path, **training) -> dict:
    """A config that trains a small tagger on ``data_file`` (train = validation = test)."""
    return {
        "data": {"train": str(data_file), "validation": str(data_file), "test": str(data_file)},
        "model": {"word_dim": 16, "char_dim": 8, "char_filters": 8, "hidden_size": 16, "dropout": 0.0},
        "training": {"epochs": 40, "batch_size": 2, "optimizer": "adam", "lr": 0.02, "lr_decay": 0.0,
                     "patience": None, "progress": False, "device": "cpu",
                     # One thread whatever else runs: results compared bit for bit need the same count.
                     "threads": 1, **training},
        "output": {"dir": str(run_dir)},
    }


def task_splits(config):
    """The vocabularies and encoded splits of a config, as training makes them: its task reads
    the data, settles the config by it, encodes the splits."""
    from birnn_tag.tasks import task_for

    task = task_for(config)
    corpus = task.read(config)
    return task.encode_splits(task.settle(config, corpus), corpus, None)


def training_pieces(corpus, config):
    """The pieces of a corpus's training split as ``encode_tagging_splits`` makes them: cleaned
    (``data.scheme: auto`` resolved) and cut between entities."""
    from birnn_tag.tagging.data.preparation import clean_split, cut_sentences, resolve_scheme

    config = resolve_scheme(corpus, "train", config)
    return cut_sentences(clean_split(corpus, "train", config), config, keep_entities=True)


@pytest.fixture
def tiny_config(tmp_path: Path, tiny_conll: Path) -> Path:
    """A YAML config file for :func:`tiny_config_dict` on the tiny fixture."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(tiny_conll, tmp_path / "run")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run folder trained once per test session on the tiny fixture."""
    from birnn_tag.config import config_from_dict
    from birnn_tag.training.loop import train

    folder = tmp_path_factory.mktemp("trained")
    data = folder / "tiny.conll"
    shutil.copy(FIXTURES / "tiny.conll", data)
    config = config_from_dict(tiny_config_dict(data, folder / "run"))
    return train(config)


@pytest.fixture(scope="session")
def cloze_run(tmp_path_factory) -> Path:
    """A folder holding ``text.txt`` (:data:`SENTENCES`) and a cloze run ``run`` trained on it
    through the CLI, once per test session."""
    from typer.testing import CliRunner

    from birnn_tag.cli.app import app

    folder = tmp_path_factory.mktemp("cloze")
    (folder / "text.txt").write_text("\n".join(SENTENCES * 30) + "\n\n")
    config = {
        "task": "cloze",
        "data": {"train": str(folder / "text.txt"), "validation": str(folder / "text.txt"), "test": str(folder / "text.txt")},
        "model": {"word_dim": 16, "hidden_size": 24, "dropout": 0.0},
        "training": {"epochs": 12, "batch_size": 8, "optimizer": "adam", "lr": 0.02, "lr_decay": 0.0,
                     "patience": None, "progress": False, "device": "cpu"},
        "output": {"dir": str(folder / "run")},
    }
    (folder / "cloze.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(folder / "cloze.yaml")])
    assert result.exit_code == 0, result.output
    return folder
