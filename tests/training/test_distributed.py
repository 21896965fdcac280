"""Two CPU processes with gloo (torchrun) train the same model as one process, within float
rounding, and a stopped two-process run with dropout resumes to the uninterrupted run's weights."""

import json
import subprocess
import sys

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
    # Stopped after 2 of the 3 epochs, then resumed under torchrun: the same weights as the uninterrupted run.
    torchrun(write("dropout", 0.5))
    torchrun(write("stopped", 0.5), "--set", "training.epochs=2")
    torchrun(str(tmp_path / "stopped.yaml"), "--resume")
    resumed = torch.load(tmp_path / "stopped" / "last.pt", weights_only=True)
    assert resumed["state"]["epoch"] == 3

    a = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "double" / "last.pt", weights_only=True)
    uninterrupted = torch.load(tmp_path / "dropout" / "last.pt", weights_only=True)
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-4), key
        assert torch.allclose(resumed["model"][key], uninterrupted["model"][key], atol=1e-6), key
    losses = [[json.loads(line)["train_loss"] for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
              for run in ("single", "double")]
    assert len(losses[1]) == 3
    assert all(abs(x - y) < 1e-4 for x, y in zip(*losses)), losses
    assert (tmp_path / "double" / "report.json").is_file()
