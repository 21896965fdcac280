"""The run folder: nothing lost to --overwrite, one training at a time, and a crash at any write
point resumes to the uninterrupted run's result (dropout on)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from birnn_tag.training import loop as training
from birnn_tag.config import config_from_dict
from birnn_tag.errors import BirnnTagError
from birnn_tag.training.loop import train

from conftest import tiny_config_dict


def tiny(data: Path, run: Path, **settings):
    raw = tiny_config_dict(data, run, epochs=settings.pop("epochs", 2))
    raw["model"]["dropout"] = 0.5  # resume must reproduce dropout masks, not just the batch order
    for key, value in settings.items():
        section, name = key.split("__")
        raw[section][name] = value
    return config_from_dict(raw)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, tiny_conll):
    # output.dir names the folder that holds the training data: nothing in it may go.
    config = tiny(tiny_conll, tmp_path, output__overwrite=True)
    before = snapshot(tmp_path)
    with pytest.raises(BirnnTagError, match="replaces only a birnn-tag run folder"):
        train(config)
    assert snapshot(tmp_path) == before


def test_overwrite_refuses_a_run_that_holds_the_data(tmp_path, tiny_conll):
    run = train(tiny(tiny_conll, tmp_path / "run", epochs=1))
    data = run / "train.conll"
    shutil.copy(tiny_conll, data)
    with pytest.raises(BirnnTagError, match="would delete .*train.conll, which this run reads"):
        train(tiny(data, run, output__overwrite=True))
    assert data.read_bytes() == tiny_conll.read_bytes()


def test_output_dir_naming_a_file(tmp_path, tiny_conll):
    with pytest.raises(BirnnTagError, match="output.dir names a file, not a folder"):
        train(tiny(tiny_conll, tiny_conll))


def test_overwrite_keeps_the_old_run_until_the_first_checkpoint(tmp_path, tiny_conll, monkeypatch):
    run = train(tiny(tiny_conll, tmp_path / "run", epochs=1))
    before = snapshot(run)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tiny_conll, run, epochs=3, output__overwrite=True))
    assert snapshot(run) == before
    monkeypatch.undo()
    # Replaced for real once the new run checkpoints: nothing of the old run is left over.
    (run / "report-extra.json").write_text("{}")
    train(tiny(tiny_conll, run, epochs=2, output__overwrite=True))
    assert not (run / "report-extra.json").exists()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_a_stopped_fresh_run_leaves_no_folder(tmp_path, tiny_conll, monkeypatch):
    def failing(*args, **kwargs):
        raise BirnnTagError("stop")

    monkeypatch.setattr(training, "train_epoch", failing)
    with pytest.raises(BirnnTagError):
        train(tiny(tiny_conll, tmp_path / "new"))
    assert not (tmp_path / "new").exists()


def test_second_training_on_a_locked_run_folder_names_the_holder(tmp_path, tiny_conll):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from birnn_tag.runs.folder import RunLock; "
         "lock = RunLock(Path(sys.argv[1])); print('locked', flush=True); time.sleep(60)", str(run)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BirnnTagError, match=rf"another training is writing this run folder \(pid {holder.pid}\)"):
            train(tiny(tiny_conll, run, output__overwrite=True))
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the killed holder's lock: the folder is usable at once.
    assert (train(tiny(tiny_conll, run, epochs=1)) / "last.pt").is_file()


class Crash(BaseException):
    """Stands for kill -9: no handler catches it and nothing is cleaned up on the way out."""


def crash_at(point: int, monkeypatch) -> None:
    """Make the ``point``-th fsync or rename during training raise :class:`Crash` instead."""
    calls = {"n": 0}

    def wrap(real):
        def call(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == point:
                raise Crash
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(os, "fsync", wrap(os.fsync))
    monkeypatch.setattr(os, "replace", wrap(os.replace))


def results(run: Path) -> tuple:
    weights = torch.load(run / "best.pt", weights_only=True)["model"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    stable = [{k: v for k, v in r.items() if "seconds" not in k and "per_s" not in k} for r in records]
    return weights, stable, json.loads((run / "report.json").read_text())


def test_a_crash_at_any_write_point_resumes_to_the_uninterrupted_result(tmp_path, tiny_conll, monkeypatch):
    epochs, seed = 3, 5
    expected = results(train(tiny(tiny_conll, tmp_path / "full", epochs=epochs, training__seed=seed, training__lr=0.05)))
    # Crashes come in epochs that write best.pt and in epochs that do not.
    assert [r["best"] for r in expected[1]] == [True, False, True]
    point = 0
    while True:
        point += 1
        run = tmp_path / f"crash{point}"
        crash_at(point, monkeypatch)
        try:
            train(tiny(tiny_conll, run, epochs=epochs, training__seed=seed, training__lr=0.05))
            break  # past the last write point
        except Crash:
            pass
        finally:
            monkeypatch.undo()
        if (run / "last.pt").is_file():
            train(tiny(tiny_conll, run, epochs=epochs, training__seed=seed, training__lr=0.05), resume=True)
        else:  # killed before the first epoch was saved: start again
            train(tiny(tiny_conll, run, epochs=epochs, training__seed=seed, training__lr=0.05, output__overwrite=True))
        weights, records, report = results(run)
        assert records == expected[1], point
        assert report == expected[2], point
        for key, value in expected[0].items():
            assert torch.equal(weights[key], value), (point, key)
        assert not list(run.glob("*.tmp")), point
    assert point > 4 * epochs  # every epoch's files were written through the crash points


def test_resuming_an_early_stopped_run_only_finishes_it_unless_given_more_epochs(tmp_path, tiny_conll):
    # A run killed after its early stop (during the final reports) must not train on when resumed.
    run = train(tiny(tiny_conll, tmp_path / "run", epochs=30, training__patience=1))
    stopped = snapshot(run)
    epochs = len((run / "metrics.jsonl").read_text().splitlines())
    assert epochs < 30
    train(tiny(tiny_conll, run, epochs=30, training__patience=1), resume=True)
    assert {name: snapshot(run)[name] for name in ("last.pt", "best.pt", "metrics.jsonl")} == {
        name: stopped[name] for name in ("last.pt", "best.pt", "metrics.jsonl")
    }
    train(tiny(tiny_conll, run, epochs=40, training__patience=1), resume=True)
    assert len((run / "metrics.jsonl").read_text().splitlines()) > epochs
