"""One training epoch alone, beside one busy process, and beside another training.

Torch runs an OpenMP thread per core. When another process holds a core, every parallel region
waits for the thread that lost it; this script measures what that costs, through the real CLI:

    python scripts/benchmark_busy.py --config configs/conll2003-glove.yaml --sentences 4000

Each run is ``birnn-tag train CONFIG`` for one epoch on the first ``--sentences`` sentences of the
config's training file (a copy in a temp folder; validation and test are that copy too); its time
is the epoch's ``train_seconds`` from ``metrics.jsonl``. ``--env NAME=VALUE`` runs every training
with that variable set (e.g. ``OMP_WAIT_POLICY=ACTIVE`` to compare a policy), ``--set`` with a config
override (e.g. ``training.threads=1``). Prints a markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

BUSY_LOOP = "while True: pass"


def cpu_model() -> str:
    """The CPU's model name, as ``lscpu`` prints it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def slice_conll(source: Path, sentences: int, target: Path) -> None:
    """The first ``sentences`` sentences of a CoNLL file (blank-line separated) into ``target``."""
    blocks = source.read_text(encoding="utf-8").split("\n\n")
    kept = [block for block in blocks if block.strip() and not block.lstrip().startswith("-DOCSTART-")]
    target.write_text("\n\n".join(kept[:sentences]) + "\n", encoding="utf-8")


def training(config: str, data: Path, run_dir: Path, env: dict[str, str], overrides: list[str]) -> subprocess.Popen:
    """Start ``birnn-tag train`` for one epoch on ``data``."""
    sets = [f"data.train={data}", f"data.validation={data}", f"data.test={data}", f"output.dir={run_dir}",
            "output.overwrite=true", "training.epochs=1", "training.progress=false", *overrides]
    command = [sys.executable, "-m", "birnn_tag", "train", config, *[arg for s in sets for arg in ("--set", s)]]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def epoch_seconds(run: subprocess.Popen, run_dir: Path) -> float:
    """Wait for a training and return its epoch's training seconds."""
    if run.wait() != 0:
        raise SystemExit(f"training failed: {' '.join(run.args)}")
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/conll2003-glove.yaml")
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every training (repeatable).")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Config override (repeatable).")
    args = parser.parse_args()
    env = {**os.environ, **dict(item.split("=", 1) for item in args.env)}

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
        source = (Path(args.config).resolve().parent.parent / config["data"]["train"]).resolve()
        data = folder / "train.conll"
        slice_conll(source, args.sentences, data)

        alone = epoch_seconds(training(args.config, data, folder / "alone", env, args.overrides), folder / "alone")
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        try:
            beside_busy = epoch_seconds(training(args.config, data, folder / "busy", env, args.overrides), folder / "busy")
        finally:
            busy.kill()
            busy.wait()
        pair = [training(args.config, data, folder / f"pair{i}", env, args.overrides) for i in range(2)]
        beside_training = [epoch_seconds(run, folder / f"pair{i}") for i, run in enumerate(pair)]

    print(f"{cpu_model()}, {os.cpu_count()} cores, {args.sentences} sentences, {' '.join(args.env + args.overrides) or 'defaults'}\n")
    print("| training epoch | seconds | × alone |")
    print("|---|---|---|")
    print(f"| alone | {alone:.1f} | 1.00 |")
    print(f"| beside one busy process | {beside_busy:.1f} | {beside_busy / alone:.2f} |")
    for seconds in beside_training:
        print(f"| beside another training | {seconds:.1f} | {seconds / alone:.2f} |")


if __name__ == "__main__":
    main()
