"""Peak RSS of ``birnn-tag predict`` by input size: CoNLL test sentences repeated as text lines
(20k, 200k and 2M sentences) and one 5 MB line of them, CoNLL and JSONL output.

Each measurement is a fresh ``python -m birnn_tag predict RUN INPUT --format F -o FILE`` process;
its peak RSS comes from ``os.wait4`` (the child's own ``ru_maxrss``). ``--tree`` runs another
checkout's code (put first on ``PYTHONPATH``), e.g. a ``git worktree`` of an older commit:

    python benchmarks/benchmark_memory.py /tmp/glove2 --sentences ../shared/data/conll2003/eng.testb
    python benchmarks/benchmark_memory.py /tmp/glove2 --tree /tmp/before --sizes 20000 200000

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_busy import cpu_model  # benchmarks/ is on sys.path when a script runs

FORMATS = ("conll", "jsonl")
LINE_BYTES = 5_000_000


def conll_sentences(path: Path) -> list[str]:
    """The sentences of a CoNLL column file as space-joined text lines (``-DOCSTART-`` skipped)."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            current.append(fields[0])
        elif current:
            sentences.append(" ".join(current))
            current = []
    return sentences + [" ".join(current)] if current else sentences


def write_inputs(sentences: list[str], sizes: list[int], folder: Path) -> dict[str, Path]:
    """One text file per size (the sentences repeated, one per line) and one 5 MB single line."""
    files = {}
    for size in sizes:
        path = files[f"{size:,} sentences"] = folder / f"{size}.txt"
        with path.open("w", encoding="utf-8") as handle:
            for index in range(size):
                handle.write(sentences[index % len(sentences)] + "\n")
    line, length = [], 0
    while length < LINE_BYTES:
        line.append(sentences[len(line) % len(sentences)])
        length += len(line[-1]) + 1
    path = files["one 5 MB line"] = folder / "line.txt"
    path.write_text(" ".join(line) + "\n", encoding="utf-8")
    return files


def measure(tree: Path, run: str, source: Path, output_format: str, folder: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one ``birnn-tag predict`` process run from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "birnn_tag", "predict", run, str(source), "--format", output_format,
               "-o", str(folder / f"out.{output_format}")]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise SystemExit(f"predict failed: {' '.join(command)}\n{log.read().decode(errors='replace')}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="Run folder of a trained tagger (absolute, or relative to --tree).")
    parser.add_argument("--sentences", type=Path, default=Path("../shared/data/conll2003/eng.testb"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 2_000_000])
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                        help="Checkout whose code runs (default: this one).")
    parser.add_argument("--workdir", type=Path, default=None, help="Where inputs and outputs go (default: a temp dir).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as name:
        folder = Path(name)
        inputs = write_inputs(conll_sentences(args.sentences.resolve()), args.sizes, folder)
        print(f"{cpu_model()}, {os.cpu_count()} cores, tree {args.tree}, run {args.run}\n")
        print("| input | " + " | ".join(f"{f} peak RSS | {f} seconds" for f in args.formats) + " |")
        print("|---|" + "---|---|" * len(args.formats))
        for label, source in inputs.items():
            cells = []
            for output_format in args.formats:
                rss, seconds = measure(args.tree.resolve(), args.run, source, output_format, folder)
                cells += [f"{rss:,.0f} MB", f"{seconds:.1f}"]
            print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
