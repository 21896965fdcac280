"""Dev and test F1 of trained tagging runs evaluated in fp32 and in bf16 (``--precision``).

    python benchmarks/compare_precision.py runs/seeds-glove-dense/default/seed-* --threads 2

Prints a markdown table (one row per run, plus the mean difference) for docs/benchmarks.md, with
each precision's evaluation time. bf16 is only faster on hardware with native bf16
(``birnn_tag.runtime.precision.has_native_bf16``), which the header line reports.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from birnn_tag.runtime.devices import has_native_bf16
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.scoring.evaluation import evaluate_checkpoint

SPLITS = ("validation", "test")
PRECISIONS = ("fp32", "bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders (their best.pt) or checkpoints")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}, native bf16: {has_native_bf16(device)}")
    print("| run | dev F1 fp32 / bf16 | test F1 fp32 / bf16 | evaluation s fp32 / bf16 |\n|---|---|---|---|")
    differences: dict[str, list[float]] = {split: [] for split in SPLITS}
    for run in args.runs:
        loaded = load_model(run, device)
        f1: dict[tuple[str, str], float] = {}
        seconds = dict.fromkeys(PRECISIONS, 0.0)
        for split in SPLITS:
            for precision in PRECISIONS:
                started = time.perf_counter()
                f1[split, precision] = 100 * evaluate_checkpoint(loaded, split=split, device=device, precision=precision).f1
                seconds[precision] += time.perf_counter() - started
            differences[split].append(f1[split, "bf16"] - f1[split, "fp32"])
        cells = [f"{f1[split, 'fp32']:.2f} / {f1[split, 'bf16']:.2f}" for split in SPLITS]
        print(f"| {run} | {cells[0]} | {cells[1]} | {seconds['fp32']:.1f} / {seconds['bf16']:.1f} |")
    means = [f"{statistics.mean(differences[split]):+.3f}" for split in SPLITS]
    print(f"| mean bf16 − fp32 over {len(args.runs)} runs | {means[0]} | {means[1]} | |")


if __name__ == "__main__":
    main()
