"""One training epoch as one process with N threads against N processes with one thread each.

Small LSTM steps spread badly over threads (each operation is too short to split well), while
DistributedDataParallel processes each take a share of every batch and only meet to average
gradients. This script measures both, one after the other, through the real CLI:

    python benchmarks/benchmark_processes.py --config configs/conll2003-glove.yaml --processes 2

Each run is ``birnn-tag train CONFIG --set training.epochs=1`` (the second under ``torchrun``);
throughput is the epoch's wall time from ``metrics.jsonl`` (training only: batching, model, CRF,
gradient exchange and optimiser, but not data loading or the dev evaluation). Prints a markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def train_one_epoch(config: str, run_dir: Path, overrides: list[str], processes: int, threads: int) -> dict:
    """Run one epoch of ``birnn-tag train``; return the epoch's metrics and the launch command."""
    sets = [f"output.dir={run_dir}", "output.overwrite=true", "training.epochs=1", "training.progress=false",
            f"training.threads={threads}", *overrides]
    launcher = [sys.executable, "-m", "birnn_tag"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                    "-m", "birnn_tag"]
    command = [*launcher, "train", config, *[arg for s in sets for arg in ("--set", s)]]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/conll2003-glove.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--processes", type=int, default=2, help="also the single process's thread count")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for processes, threads in ((1, args.processes), (args.processes, 1)):
            metrics = train_one_epoch(args.config, Path(scratch) / f"p{processes}", args.overrides, processes, threads)
            rows.append((processes, threads, metrics))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    print(f"machine: {platform.processor() or platform.machine()}; config: {args.config} {' '.join(args.overrides)}")
    print("| processes × threads | epoch s | sentences/s | tokens/s |\n|---|---|---|---|")
    for processes, threads, m in rows:
        rates = f"{m['train_sentences'] / m['train_seconds']:,.0f} | {m['train_tokens'] / m['train_seconds']:,.0f}"
        print(f"| {processes} × {threads} | {m['train_seconds']:.1f} | {rates} |")
    print(f"\nspeed-up of {args.processes} processes: {rows[0][2]['train_seconds'] / rows[1][2]['train_seconds']:.2f}×; "
          f"largest single process's peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
