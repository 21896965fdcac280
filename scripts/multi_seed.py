"""Train a config (or several variants of it) with N seeds; report dev/test scores over the seeds.

    python scripts/multi_seed.py configs/conll2003.yaml --seeds 3
    python scripts/multi_seed.py configs/conll2003.yaml --seeds 3 --parallel 6 \\
        --cell "softmax=model.head=softmax" --cell "crf=" --cell "crf-charlstm=model.char_encoder=lstm"

Each (cell, seed) is a separate ``birnn-tag train`` run in OUT/CELL/seed-S. Runs whose training
was cut short still count: their best.pt is evaluated on validation and test afterwards. Prints
a markdown table: mean ± std, median, min, max of dev and test headline scores (seqeval strict
micro F1 for span schemes, token accuracy for data.scheme none), seconds per epoch, and epochs run,
per cell.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def birnn_tag(*args: str, log: Path, timeout: float | None = None) -> int:
    """Run the CLI (this interpreter's birnn_tag), appending its output to ``log``."""
    with log.open("a") as handle:
        try:
            return subprocess.run(
                [sys.executable, "-m", "birnn_tag", *args], stdout=handle, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            handle.write(f"\n[multi_seed] training stopped after {timeout} s; evaluating best.pt\n")
            return -1


def run_one(config: str, run_dir: Path, seed: int, overrides: list[str], timeout: float | None, reuse: bool) -> dict:
    """Train one seed (unless ``reuse`` and the run already has its test report), make sure
    validation/test reports exist, and read them back."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = run_dir.parent / f"seed-{seed}.log"
    sets = [f"training.seed={seed}", f"output.dir={run_dir}", "output.overwrite=true", "training.progress=false", *overrides]
    if not (reuse and (run_dir / "report-test.json").is_file()):
        birnn_tag("train", config, *[arg for s in sets for arg in ("--set", s)], log=log, timeout=timeout)
    result = {"seed": seed}
    for split in ("validation", "test"):
        report = run_dir / f"report-{split}.json"
        if not report.is_file() and (run_dir / "best.pt").is_file():
            birnn_tag("evaluate", str(run_dir), "--split", split, log=log)
        if report.is_file():
            saved = json.loads(report.read_text())
            # The headline: entity F1 (span schemes) or token accuracy (data.scheme none); reports
            # written before "score" was saved hold only the F1.
            result[split] = 100 * saved.get("score", saved["scores"].get("micro avg", {}).get("f1-score", float("nan")))
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()] if (run_dir / "metrics.jsonl").is_file() else []
    result["epochs"] = len(metrics)
    result["seconds_per_epoch"] = statistics.mean(m["train_seconds"] for m in metrics) if metrics else float("nan")
    return result


def describe(values: list[float]) -> str:
    if not values:
        return "–"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f} (median {statistics.median(values):.2f}, {min(values):.2f}–{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override for every run")
    parser.add_argument("--cell", action="append", default=[], help="NAME=key=value,key=value (a variant)")
    parser.add_argument("--out", default="runs/multi-seed")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None, help="seconds of training per run")
    parser.add_argument("--reuse", action="store_true", help="keep (do not retrain) runs that have a test report")
    args = parser.parse_args()

    cells = {}
    for spec in args.cell or ["default="]:
        name, _, sets = spec.partition("=")
        cells[name] = [s for s in sets.split(",") if s]
    jobs = [(name, seed) for name in cells for seed in range(1, args.seeds + 1)]
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = {
            job: pool.submit(
                run_one, args.config, Path(args.out) / job[0] / f"seed-{job[1]}", job[1],
                args.overrides + cells[job[0]], args.timeout, args.reuse,
            )
            for job in jobs
        }
        results = {job: future.result() for job, future in futures.items()}

    print(f"config: {args.config} {' '.join(args.overrides)}; seeds 1..{args.seeds}; the reports' headline score\n")
    print("| variant | dev score | test score | s/epoch | epochs |\n|---|---|---|---|---|")
    for name, sets in cells.items():
        rows = [results[(name, seed)] for seed in range(1, args.seeds + 1)]
        dev = [r["validation"] for r in rows if "validation" in r]
        test = [r["test"] for r in rows if "test" in r]
        per_epoch = statistics.mean(r["seconds_per_epoch"] for r in rows)
        epochs = "/".join(str(r["epochs"]) for r in rows)
        label = f"{name} ({', '.join(sets)})" if sets else name
        print(f"| {label} | {describe(dev)} | {describe(test)} | {per_epoch:.1f} | {epochs} |")
    (Path(args.out) / "results.json").write_text(json.dumps({f"{n}/{s}": r for (n, s), r in results.items()}, indent=2))


if __name__ == "__main__":
    main()
