"""Tagging speed of trained runs as ``birnn-tag predict`` runs them: fp32 against bf16, CoNLL and
JSONL output.

For each run, a fresh process loads the checkpoint (as the CLI does, then ``gc.freeze()``) and tags
the test file ``--passes`` times per variant, variants interleaved: ``tag_stream`` +
``format_prediction``, the CLI's work without process start-up and file writing. Then the whole
command, ``birnn-tag predict RUN TEST --input-format conll -o FILE``, is timed once per precision,
start-up (imports, loading the model) included.

    python benchmarks/benchmark_predict.py runs/conll2003-glove --test ../shared/data/conll2003/eng.testb

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

PRECISIONS = ("fp32", "bf16")
FORMATS = ("conll", "jsonl")


def worker(run: str, test: str, passes: int, threads: int) -> None:
    """Runs in the child process: prints {variant: [seconds per pass]} as JSON."""
    import birnn_tag
    from birnn_tag.tagging.prediction.streaming import format_prediction

    torch.set_num_threads(threads)
    tagger = {precision: birnn_tag.load(run, device="cpu", precision=precision) for precision in PRECISIONS}
    gc.freeze()
    times: dict[str, list[float]] = {f"{p} {f}": [] for p in PRECISIONS for f in FORMATS}
    for round_ in range(passes + 1):  # round 0 warms up every variant
        for precision in PRECISIONS:
            for output_format in FORMATS:
                started = time.perf_counter()
                with open(test, "rb") as handle:
                    inputs = tagger[precision].read_inputs(handle, test, "conll")
                    confidences = output_format == "jsonl"  # as the CLI: CoNLL columns carry none
                    for prediction in tagger[precision].tag_stream(inputs, confidences=confidences):
                        format_prediction(prediction, output_format)
                if round_:
                    times[f"{precision} {output_format}"].append(time.perf_counter() - started)
    print(json.dumps(times))


def command_seconds(run: str, test: str, precision: str) -> float:
    """Wall time of the whole ``birnn-tag predict`` command, start-up included."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "birnn_tag", "predict", run, test, "--input-format", "conll",
                   "--device", "cpu", "--precision", precision, "-o", str(Path(folder) / "out.conll")]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders (their best.pt) or checkpoints")
    parser.add_argument("--test", default="../shared/data/conll2003/eng.testb", help="a CoNLL file to tag")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.runs[0], args.test, args.passes, args.threads)
        return
    from birnn_tag.data.reading.conll import ColumnFormat, read_conll

    sentences = len(read_conll(Path(args.test), ColumnFormat(tag_column=None))["tokens"])
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}")
    print(f"{args.test}: {sentences:,} sentences; sentences/s of the fastest / median of {args.passes} passes")
    header = " | ".join(f"{p} {f}" for p in PRECISIONS for f in FORMATS)
    print(f"| run | {header} | whole command fp32 / bf16 |\n|---|{'---|' * len(PRECISIONS) * len(FORMATS)}---|")
    for run in args.runs:
        child = [sys.executable, __file__, run, "--worker", "--test", args.test,
                 "--passes", str(args.passes), "--threads", str(args.threads)]
        times = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        cells = [f"{sentences / min(t):,.0f} / {sentences / statistics.median(t):,.0f}" for t in times.values()]
        whole = " / ".join(f"{command_seconds(run, args.test, p):.1f} s" for p in PRECISIONS)
        print(f"| {run} | {' | '.join(cells)} | {whole} |")


if __name__ == "__main__":
    main()
