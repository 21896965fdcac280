"""An exported model (onnxruntime) against its run (PyTorch), on one machine in one run.

    python benchmarks/benchmark_onnx.py RUN --data ../shared/data/conll2003/eng.testb --rounds 3

Exports RUN to a temporary folder, then measures:
  * agreement: every sentence of DATA tagged by PyTorch (fp32) and by the export (``export --check``'s
    comparison: identical tags, the largest emission and confidence gaps);
  * tagging speed in this process (``tag_tokens``, the API ``predict`` uses), rounds alternating
    between backends: PyTorch fp32, PyTorch at the run's precision, onnxruntime; without confidences
    (CoNLL output) and with them (JSONL: CRF marginals);
  * the whole ``birnn-tag predict DATA --input-format conll`` command for the run and the export:
    wall time, peak RSS, and whether the two outputs are byte-identical;
  * start-up: ``predict`` of one sentence from stdin (median of 3 fresh processes).

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import birnn_tag
from birnn_tag.data.reading.conll import ColumnFormat, read_conll
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.onnx.export import check_export, export_model

CLI = [sys.executable, "-m", "birnn_tag"]


def machine() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_command(args: list[str], stdin: str | None = None) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS (MB) and stdout of a fresh ``birnn-tag`` process fed ``stdin``.

    The peak RSS comes from ``/usr/bin/time``, a small process of its own: a child forked or
    vforked from this one would count this process's memory in its own peak.
    """
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as source:
        source.write((stdin or "").encode())
        source.seek(0)
        started = time.perf_counter()
        code = subprocess.run(["/usr/bin/time", "-f", "peak-kb %M", *CLI, *args], stdin=source, stdout=output, stderr=errors).returncode
        seconds = time.perf_counter() - started
        errors.seek(0)
        lines = errors.read().decode(errors="replace").splitlines()
        if code:
            raise SystemExit(f"birnn-tag {' '.join(args)} failed with {code}: {lines[-2:] if lines else ''}")
        peak = next(int(line.split()[1]) for line in reversed(lines) if line.startswith("peak-kb "))
        output.seek(0)
        return seconds, peak / 1024, output.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a tagging run folder (best.pt) or checkpoint")
    parser.add_argument("--data", default="../shared/data/conll2003/eng.testb", help="a CoNLL file to tag (tokens in column 0)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sentences = read_conll(args.data, ColumnFormat(tag_column=None))["tokens"]
    tokens = sum(map(len, sentences))
    loaded = load_model(args.run)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "export"
        started = time.perf_counter()
        export_model(loaded, folder)
        export_seconds = time.perf_counter() - started
        check = check_export(loaded, folder, sentences)

        backends = {
            "PyTorch fp32": birnn_tag.load(args.run, device="cpu", precision="fp32"),
            f"PyTorch {loaded.config.training.eval_precision}": birnn_tag.load(args.run, device="cpu"),
            "onnxruntime (fp32)": birnn_tag.load(folder),
        }
        rates: dict[tuple[str, bool], list[float]] = {}
        for _ in range(args.rounds):
            for name, model in backends.items():
                for confidences in (False, True):
                    started = time.perf_counter()
                    for _ in model.tag_stream(sentences, confidences=confidences):
                        pass
                    rates.setdefault((name, confidences), []).append(len(sentences) / (time.perf_counter() - started))

        run_precision = loaded.config.training.eval_precision
        targets = {
            "run, fp32": [args.run, "--device", "cpu", "--precision", "fp32"],
            f"run, {run_precision}": [args.run, "--device", "cpu"],
            "export": [str(folder)],
        }
        commands = {
            name: run_command(["predict", *target, args.data, "--input-format", "conll"]) for name, target in targets.items()
        }
        startup = {
            name: statistics.median(run_command(["predict", *target, "-", "--pretokenized"], "Peter lives in Paris .\n")[0] for _ in range(3))
            for name, target in targets.items()
        }

    print(f"machine: {machine()}, run {args.run}, {len(sentences):,} sentences / {tokens:,} tokens of {args.data}\n")
    print(f"export: {export_seconds:.1f} s; {check.summary()}\n")
    print("| backend | tagging, no confidences (CoNLL) | tagging with confidences (JSONL) |\n|---|---|---|")
    for name in backends:
        cells = [f"{max(rates[name, c]):,.0f} sentences/s" for c in (False, True)]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    identical = commands["run, fp32"][2] == commands["export"][2]
    print("\n| `birnn-tag predict` | whole command | sentences/s | peak RSS | start-up (1 sentence, median of 3) |\n|---|---|---|---|---|")
    for name in targets:
        seconds, rss, _ = commands[name]
        print(f"| {name} | {seconds:.2f} s | {len(sentences) / seconds:,.0f} | {rss:,.0f} MB | {startup[name]:.2f} s |")
    print(f"\nCoNLL outputs of the run in fp32 and of the export byte-identical: {identical}")


if __name__ == "__main__":
    main()
