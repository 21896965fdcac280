"""Pictures: learning curves written by train and by `birnn-tag plot`, confusion heatmaps by
evaluate --confusion; valid PNGs; a clear error without matplotlib."""

from __future__ import annotations

import shutil
import sys

import pytest
from typer.testing import CliRunner

from birnn_tag.cli.app import app
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.plots import plot_curves
from birnn_tag.tagging.scoring.error_analysis import confusion_matrix

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def image_size(path):
    from matplotlib.image import imread

    return imread(path).shape[:2]


def test_train_draws_its_curves_and_plot_overlays_runs(trained_run, tmp_path):
    assert (trained_run / "curves.png").read_bytes()[:8] == PNG
    height, width = image_size(trained_run / "curves.png")
    assert height > 600 and width > 600
    other = tmp_path / "other"
    shutil.copytree(trained_run, other)
    result = runner.invoke(app, ["plot", str(trained_run), str(other), "-o", str(tmp_path / "both.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "both.png").read_bytes()[:8] == PNG
    result = runner.invoke(app, ["plot", str(tmp_path / "missing"), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "metrics.jsonl: cannot read" in result.output


def test_confusion_matrix_pairs_spans_and_draws(trained_run, tmp_path):
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-LOC", "O"]]
    matrix, rows, columns = confusion_matrix(gold, predicted, "IOB2")
    assert rows == ["LOC", "ORG", "PER", "(none)"] and columns == ["LOC", "ORG", "PER", "(none)"]
    assert matrix == [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]]
    picture = tmp_path / "confusion.png"
    result = runner.invoke(app, ["evaluate", str(trained_run), "--split", "validation", "--confusion", str(picture), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert picture.read_bytes()[:8] == PNG


def test_without_matplotlib_plots_say_what_to_install(tmp_path, monkeypatch, trained_run):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(BirnnTagError, match=r"plots need matplotlib: pip install 'birnn-tag\[plots\]'"):
        plot_curves([trained_run], tmp_path / "x.png")


def test_tensorboard_gets_each_epochs_scalars(tmp_path, tiny_conll):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from birnn_tag.config import config_from_dict
    from birnn_tag.training.loop import train
    from conftest import tiny_config_dict

    run = train(config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "run", epochs=3, tensorboard=True)))
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run))
    events.Reload()
    assert {"train_loss", "lr", "dev_f1"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("dev_f1")] == [1, 2, 3]
