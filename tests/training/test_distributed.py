"""Two CPU processes with gloo (torchrun) train the same model as one process, within float
rounding; an elastic two-process run with dropout whose worker dies once is restarted by
torchrun (``--resume auto``) and ends with the uninterrupted run's weights; ranks that do not
share a run folder are refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from conftest import tiny_config_dict


def test_two_gloo_processes_match_one_and_resume_where_they_stopped(tmp_path, tiny_conll):
    # One process against two: no dropout, as the ranks draw their own masks; the only
    # randomness left is the batch order, which every rank shares. Resume: dropout on.
    def write(name: str, dropout: float = 0.0) -> str:
        config = tiny_config_dict(tiny_conll, tmp_path / name, epochs=3, batch_size=4, threads=1)
        config["model"] |= {"dropout": dropout, "word_dropout": dropout / 5}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return str(path)

    single = subprocess.run([sys.executable, "-m", "birnn_tag", "train", write("single")], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "birnn_tag", "train"]

    def torchrun(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*launch, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    assert "× 2 processes" in torchrun(write("double")).stderr
    torchrun(write("dropout", 0.5))
    # One command line, run twice by torchrun: rank 1 dies at its third epoch, both restart and resume.
    died = tmp_path / "died"
    elastic = subprocess.run(
        [*launch[:-3], "--max-restarts=1", str(WORKER), "train", write("elastic", 0.5), "--resume", "auto"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DIE_ONCE": str(died)},
    )
    assert elastic.returncode == 0 and died.exists(), elastic.stderr[-3000:]
    resumed = torch.load(tmp_path / "elastic" / "last.pt", weights_only=True)
    assert resumed["state"]["epoch"] == 3
    assert len((tmp_path / "elastic" / "metrics.jsonl").read_text().splitlines()) == 3

    a = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "double" / "last.pt", weights_only=True)
    uninterrupted = torch.load(tmp_path / "dropout" / "last.pt", weights_only=True)
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-4), key
        assert torch.equal(resumed["model"][key], uninterrupted["model"][key]), key
    losses = [[json.loads(line)["train_loss"] for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
              for run in ("single", "double")]
    assert len(losses[1]) == 3
    assert all(abs(x - y) < 1e-4 for x, y in zip(*losses)), losses
    assert (tmp_path / "double" / "report.json").is_file()


WORKER = Path(__file__).with_name("torchrun_worker.py")


def test_ranks_without_a_shared_run_folder_are_refused(tmp_path, tiny_conll):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_conll, tmp_path / "run", epochs=1, threads=1)))
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER), "train", str(config)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OWN_FOLDER": str(tmp_path / "run")},
    )
    assert done.returncode != 0
    assert "output.dir is not the same folder for every process: rank(s) 1 " in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "run-rank-0" / "last.pt").exists()
