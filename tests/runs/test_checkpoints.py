"""Damaged, hostile and foreign checkpoints fail with one line naming the file and the key; file
systems that refuse writes give one line and leave no temporary files."""

import io
import os
import subprocess
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from birnn_tag.runs.checkpoint import read_checkpoint
from birnn_tag.cli.app import app
from birnn_tag.config import config_from_dict
from birnn_tag.errors import BirnnTagError, CheckpointError
from birnn_tag.runs.loading import load_model
from birnn_tag.training.loop import train

from conftest import tiny_config_dict

runner = CliRunner()


def rewritten(trained_run: Path, tmp_path: Path, **changes) -> Path:
    payload = torch.load(trained_run / "best.pt", weights_only=True)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    path = tmp_path / "edited.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"vocab": None}, "key 'vocab' is missing or not a mapping"),
        ({"vocab": "words"}, "key 'vocab' is missing or not a mapping"),
        ({"vocab": {"words": ["a"], "chars": ["b"]}}, "key 'vocab.labels' is missing or not a list of strings"),
        ({"vocab": {"words": [1, 2], "chars": [], "labels": []}}, "key 'vocab.words' is missing or not a list of strings"),
        ({"model": [1, 2]}, "key 'model' is missing or not a mapping of tensors"),
        ({"config": "tagging"}, "key 'config' is missing or not a mapping"),
        ({"state": [1]}, "key 'state' is not a mapping"),
        ({"format_version": list(range(10**5))}, "checkpoint format [0, 1, 2, ...] is not supported"),
    ],
)
def test_malformed_checkpoint_keys(trained_run, tmp_path, changes, message):
    path = rewritten(trained_run, tmp_path, **changes)
    with pytest.raises(CheckpointError, match=r"edited\.pt: ") as caught:
        load_model(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_hostile_pickle_is_refused_without_advice_to_unpickle_it(tmp_path):
    class Hostile:
        def __reduce__(self):
            return os.system, ("touch " + str(tmp_path / "pwned"),)

    path = tmp_path / "hostile.pt"
    buffer = io.BytesIO()
    torch.save({"format": "birnn-tag", "format_version": 1, "x": Hostile()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(path)
    message = str(caught.value)
    assert "refused" in message and "weights_only" not in message and "\n" not in message
    assert not (tmp_path / "pwned").exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A mount point for a tmpfs the test sizes itself; skipped where mounting is not allowed."""
    mounted = []

    def mount(size: str, *options: str) -> Path:
        point = tmp_path / f"mount{len(mounted)}"
        point.mkdir()
        flags = ",".join((f"size={size}", *options))
        if subprocess.run(["mount", "-t", "tmpfs", "-o", flags, "tmpfs", str(point)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "--lazy", str(point)], check=True)


def test_disk_full_during_training_is_one_line_and_leaves_no_temporary_file(tmp_path, tiny_conll, small_tmpfs):
    disk = small_tmpfs("64k")  # config and vocab fit; the first checkpoint does not
    config = config_from_dict(tiny_config_dict(tiny_conll, disk / "run", epochs=2))
    with pytest.raises(BirnnTagError, match=r"run/(best|last)\.pt: cannot write: No space left on device"):
        train(config)
    assert not list((disk / "run").glob("*.tmp"))


def test_read_only_run_folder(tmp_path, tiny_conll, trained_run, small_tmpfs):
    disk = small_tmpfs("8m")
    run = disk / "run"
    for name in ("best.pt", "config.yaml", "vocab.json"):
        (run / name).parent.mkdir(exist_ok=True)
        (run / name).write_bytes((trained_run / name).read_bytes())
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    # evaluate shows the scores it computed, then says it could not save them.
    result = runner.invoke(app, ["evaluate", str(run), "--split", "test", "--device", "cpu"])
    assert result.exit_code == 1
    assert "micro avg" in result.output
    assert "report-test.txt: Read-only file system" in result.output.replace("\n", "")
    assert "Traceback" not in result.output
    # train cannot even take the run folder's lock.
    config = config_from_dict(tiny_config_dict(tiny_conll, disk / "new", epochs=1))
    with pytest.raises(BirnnTagError, match=r"new: cannot create the run folder: Read-only file system"):
        train(config)
