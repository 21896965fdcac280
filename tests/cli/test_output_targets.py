"""`predict -o` writes into what it names: devices and FIFOs in place, through symlinks, never over
its input; a failing disk gives one line and leaves no partial file behind."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from birnn_tag.cli.app import app

runner = CliRunner()
SENTENCES = "Tom flew to Paris .\nAnna stayed .\n"


def predict(run: Path, source: Path, output: Path | str, *extra: str):
    args = ["predict", str(run), str(source), "-o", str(output), "--pretokenized", "--device", "cpu", *extra]
    return runner.invoke(app, args)


def expected_output(run: Path, source: Path) -> str:
    result = runner.invoke(app, ["predict", str(run), str(source), "--pretokenized", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "input.txt"
    path.write_text(SENTENCES, encoding="utf-8")
    return path


def test_fifo_is_written_in_place(tmp_path, trained_run, source):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    result = predict(trained_run, source, fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert received == [expected_output(trained_run, source)]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert not list(tmp_path.glob("*.partial"))


def test_device_node_stays_a_device(tmp_path, trained_run, source):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device's numbers
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here (needs root)")
    result = predict(trained_run, source, node)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(node.stat().st_mode)


def test_symlink_is_written_through(tmp_path, trained_run, source):
    target = tmp_path / "real.conll"
    target.write_text("old\n")
    link = tmp_path / "link.conll"
    link.symlink_to(target)
    result = predict(trained_run, source, link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text(encoding="utf-8") == expected_output(trained_run, source)


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink"])
def test_output_equal_to_input_is_refused(tmp_path, trained_run, source, alias):
    output = {"same": source, "symlink": tmp_path / "link.txt", "hardlink": tmp_path / "hard.txt"}[alias]
    if alias == "symlink":
        output.symlink_to(source)
    elif alias == "hardlink":
        os.link(source, output)
    result = predict(trained_run, source, output)
    assert result.exit_code == 1
    assert "is the input file" in result.output
    assert source.read_text(encoding="utf-8") == SENTENCES


def test_folder_as_input_or_output(tmp_path, trained_run, source):
    result = predict(trained_run, tmp_path, tmp_path / "out.conll")
    assert result.exit_code == 1 and "is a folder, not an input file" in result.output
    result = predict(trained_run, source, tmp_path)
    assert result.exit_code == 1 and "is a folder" in result.output


def test_full_device_as_output_is_one_line(trained_run, source):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    result = predict(trained_run, source, "/dev/full")
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert Path("/dev/full").is_char_device()


def test_stdout_to_full_device_is_one_line(trained_run, source):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    command = [sys.executable, "-m", "birnn_tag", "predict", str(trained_run), str(source), "--pretokenized", "--device", "cpu"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr


def test_full_disk_removes_the_partial_file(tmp_path, trained_run, source):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = tmp_path / "big.txt"
        big.write_text(SENTENCES * 2000, encoding="utf-8")
        (mount / "out.conll").write_text("previous results\n")
        result = predict(trained_run, big, mount / "out.conll")
        assert result.exit_code == 1
        assert "No space left on device" in result.output and "Traceback" not in result.output
        assert sorted(p.name for p in mount.iterdir()) == ["out.conll"]
        assert (mount / "out.conll").read_text() == "previous results\n"
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)
