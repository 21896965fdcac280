"""scripts/benchmark_gpu.py, the one-off GPU benchmark, end to end on the CPU in its smoke mode
(tiny data, random embeddings, 2 epochs), and its refusal of a torch without CUDA."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_gpu.py"


def test_smoke_run_writes_every_measurement(tmp_path: Path) -> None:
    out = tmp_path / "benchmark.json"
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--smoke", "--tag-sentences", "500",
               "--repeats", "1", "--run-dir", str(tmp_path / "run"), "--out", str(out)]
    finished = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    result = json.loads(out.read_text())
    assert set(result) == {"machine", "settings", "epochs", "training", "tagging", "test_f1", "dev_f1", "marks"}
    assert {"gpu", "cpu", "torch"} <= set(result["machine"])
    assert [row["epoch"] for row in result["epochs"]] == [1, 2]
    assert all(row["sentences_per_s"] > 0 and row["train_sentences"] == 5 for row in result["epochs"])
    assert {"best", "median", "median_wall"} <= set(result["training"])
    rates = result["tagging"]["rates"]
    assert [(row["batch_size"], row["confidences"]) for row in rates] == [(64, False), (64, True)]
    assert all(row["large_sentences_per_s"] > 0 for row in rates) and result["tagging"]["inputs"]["large_sentences"] == 500
    assert 0 <= result["test_f1"] <= 100
    assert set(result["marks"]) == {"training", "tagging", "test_f1"}
    assert all(isinstance(mark["passed"], bool) for mark in result["marks"].values())
    assert "| test F1 (seqeval strict micro) |" in finished.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there: nothing to refuse")
def test_cuda_without_a_gpu_is_refused_in_one_line(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--out", str(tmp_path / "x.json")],
                              check=False, capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    assert finished.stderr.strip().count("\n") == 0 and "benchmark_gpu: torch" in finished.stderr
    assert not (tmp_path / "x.json").exists()
