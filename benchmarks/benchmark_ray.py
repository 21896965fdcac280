"""Tagging a table with Ray Data (local mode) against ``birnn-tag predict`` on the same table.

Builds a Parquet table of ``--sentences`` sentences (CoNLL-2003 training sentences, as text,
repeated as needed), tags it with ``predict --format parquet`` (one process) and with
``map_batches(birnn_tag.BatchTagger)`` on 1 and 2 Ray workers, checks that every output equals
``predict``'s, and prints sentences per second (start-up included, and after ``ray.init``).
Run it alone on an idle machine:

    python benchmarks/benchmark_ray.py EXPORT_OR_RUN --train ../shared/data/conll2003/eng.train
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def sentences(train: Path, count: int) -> list[str]:
    """``count`` sentences of a CoNLL file (tokens joined by spaces; documents markers left out)."""
    found, tokens = [], []
    for line in train.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip() and not line.startswith("-DOCSTART-"):
            tokens.append(line.split()[0])
        elif tokens:
            found.append(" ".join(tokens))
            tokens = []
    return [found[i % len(found)] for i in range(count)]


def with_ray(model: str, table: Path, workers: int, batch_size: int) -> tuple[pa.Table, float, float]:
    """The tagged table, seconds from ``ray.init`` to the last row, and seconds after
    ``ray.init`` returned (the workers' start-up, loading the model, and the tagging)."""
    import ray

    import birnn_tag

    started = time.perf_counter()
    # One logical CPU more than the workers take: the read tasks need one too (with none left they wait forever).
    ray.init(num_cpus=workers + 1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        up = time.perf_counter()
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        dataset = ray.data.read_parquet(str(table)).map_batches(
            birnn_tag.BatchTagger, fn_constructor_kwargs={"model": model}, batch_size=batch_size,
            batch_format="pyarrow", concurrency=workers,
        )
        tagged = pa.concat_tables(list(dataset.iter_batches(batch_size=None, batch_format="pyarrow")))
        done = time.perf_counter()
    finally:
        ray.shutdown()
    return tagged, done - started, done - up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an export folder (torch-free workers) or a run folder")
    parser.add_argument("--train", type=Path, default=Path("../shared/data/conll2003/eng.train"))
    parser.add_argument("--sentences", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1_024)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                if line.startswith("Model name")), platform.processor())
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "in.parquet"
        pq.write_table(pa.table({"id": range(args.sentences), "text": sentences(args.train, args.sentences)}), table)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "birnn_tag", "predict", args.model, str(table), "--format", "parquet",
                        "-o", f"{folder}/out.parquet"], check=True, capture_output=True)
        seconds = time.perf_counter() - started
        expected = pq.read_table(f"{folder}/out.parquet")
        rows = [{"engine": "birnn-tag predict (1 process)", "seconds": seconds, "after init": None, "equal": True}]
        for workers in args.workers:
            tagged, total, after_init = with_ray(args.model, table, workers, args.batch_size)
            equal = all(tagged.column(c).to_pylist() == expected.column(c).to_pylist() for c in ("tokens", "tags", "confidences", "spans"))
            rows.append({"engine": f"Ray Data, {workers} worker(s)", "seconds": total, "after init": after_init, "equal": equal})
    print(json.dumps({"cpu": cpu, "model": args.model, "sentences": args.sentences, "rows": rows}))
    print(f"\n{args.sentences:,} sentences, {cpu}\n")
    print("| engine | sentences/s (start-up included) | sentences/s after ray.init | output equal to predict |")
    print("|---|---|---|---|")
    for row in rows:
        after = "" if row["after init"] is None else f"{args.sentences / row['after init']:,.0f}"
        print(f"| {row['engine']} | {args.sentences / row['seconds']:,.0f} | {after} | {'yes' if row['equal'] else 'NO'} |")


if __name__ == "__main__":
    main()
