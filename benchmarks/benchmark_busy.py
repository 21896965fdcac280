"""One training epoch alone, beside one busy process, and beside another training.

Torch runs an OpenMP thread per core. When another process holds a core, every parallel region
waits for the thread that lost it; this script measures what that costs, through the real CLI:

    python benchmarks/benchmark_busy.py --config configs/conll2003-glove.yaml --sentences 4000

Each run is ``birnn-tag train CONFIG`` for one epoch on the first ``--sentences`` sentences of the
config's training file (a copy in a temp folder; validation and test are that copy too); its time
is the epoch's ``train_seconds`` from ``metrics.jsonl``. ``--env NAME=VALUE`` runs every training
with that variable set (e.g. ``OMP_WAIT_POLICY=ACTIVE`` to compare a policy), ``--set`` with a config
override (e.g. ``training.threads=1``). Prints a markdown
table for docs/benchmarks.md.

``--mid-run`` measures a busy process that starts while a training runs, once its first epoch is
done; the training's thread count follows the load (birnn_tag/runtime/threads.py), at most the config's
``training.threads``. Each arm trains ``--epochs`` epochs alone, then again with ``--competitors``
busy loops started after epoch 1, and compares epochs 2.. (train seconds) of the two:

    git worktree add /tmp/before COMMIT   # optional: the code whose count was fixed at start-up
    python benchmarks/benchmark_busy.py --mid-run --config configs/conll2003-glove-fast.yaml --before /tmp/before

Arms: this tree (adaptive), ``training.threads=1`` (fixed at 1), and with ``--before TREE`` that
tree's code (its count fixed at start-up, when the machine was still idle).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
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


def training(
    config: str, data: Path, run_dir: Path, env: dict[str, str], overrides: list[str], epochs: int = 1, tree: Path | None = None
) -> subprocess.Popen:
    """Start ``birnn-tag train`` for ``epochs`` epochs on ``data``, with ``tree``'s code when given
    (``-P``: the working directory stays the repository root, for the config's relative paths,
    without putting its ``birnn_tag`` first on the path); its output goes to ``run_dir``.log."""
    sets = [f"data.train={data}", f"data.validation={data}", f"data.test={data}", f"output.dir={run_dir}",
            "output.overwrite=true", f"training.epochs={epochs}", "training.patience=null", "training.progress=false", *overrides]
    if tree is not None:
        env = {**env, "PYTHONPATH": str(tree.resolve())}
    command = [sys.executable, "-P", "-m", "birnn_tag", "train", config, *[arg for s in sets for arg in ("--set", s)]]
    with open(f"{run_dir}.log", "w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def epochs_seconds(run: subprocess.Popen, run_dir: Path) -> list[float]:
    """Wait for a training and return each epoch's training seconds."""
    if run.wait() != 0:
        raise SystemExit(f"training failed ({run_dir}.log): {' '.join(run.args)}")
    return [json.loads(line)["train_seconds"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def epoch_seconds(run: subprocess.Popen, run_dir: Path) -> float:
    """Wait for a one-epoch training and return its epoch's training seconds."""
    return epochs_seconds(run, run_dir)[0]


def after_first_epoch(run: subprocess.Popen, run_dir: Path, competitors: int) -> list[subprocess.Popen]:
    """Start ``competitors`` busy loops once the training has written its first epoch's record."""
    metrics = run_dir / "metrics.jsonl"
    while run.poll() is None and not (metrics.is_file() and metrics.read_text().strip()):
        time.sleep(0.05)
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(competitors)]


def mid_run(args: argparse.Namespace, data: Path, folder: Path, env: dict[str, str]) -> None:
    """Each arm alone and with busy loops from epoch 2 on; prints per-epoch seconds and the ratio."""
    arms = [("adaptive (this tree)", None, args.overrides), ("1 thread", None, [*args.overrides, "training.threads=1"])]
    arms += [(f"fixed at start-up ({args.before})", args.before, args.overrides)] if args.before else []
    rows = []
    for number, (name, tree, overrides) in enumerate(arms):
        alone_dir, busy_dir = folder / f"alone{number}", folder / f"busy{number}"
        alone = epochs_seconds(training(args.config, data, alone_dir, env, overrides, args.epochs, tree), alone_dir)
        run = training(args.config, data, busy_dir, env, overrides, args.epochs, tree)
        loops = after_first_epoch(run, busy_dir, args.competitors)
        try:
            beside = epochs_seconds(run, busy_dir)
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
        changes = [line.strip() for line in Path(f"{busy_dir}.log").read_text().splitlines() if line.startswith("threads ")]
        rows.append((name, alone, beside, changes))
        print(f"{name}: alone {alone}, beside {args.competitors} busy from epoch 2 {beside}; {'; '.join(changes) or 'no thread changes'}", flush=True)
    print(f"\n{cpu_model()}, {os.cpu_count()} cores, {args.config}, {args.sentences} sentences, {args.epochs} epochs, "
          f"{args.competitors} busy loop(s) from epoch 2, {' '.join(args.env + args.overrides) or 'defaults'}\n")
    print("| arm | epoch seconds alone | beside busy (epoch 1 alone) | epochs 2.. × alone | thread changes |")
    print("|---|---|---|---|---|")
    for name, alone, beside, changes in rows:
        listed = " | ".join(" / ".join(f"{value:.1f}" for value in values) for values in (alone, beside))
        print(f"| {name} | {listed} | {sum(beside[1:]) / sum(alone[1:]):.2f} | {len(changes)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/conll2003-glove.yaml")
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every training (repeatable).")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Config override (repeatable).")
    parser.add_argument("--mid-run", action="store_true", help="Busy loops start after epoch 1 (see above).")
    parser.add_argument("--epochs", type=int, default=4, help="--mid-run: epochs per training.")
    parser.add_argument("--competitors", type=int, default=1, help="--mid-run: busy loops started after epoch 1.")
    parser.add_argument("--before", type=Path, help="--mid-run: also train with this source tree's birnn_tag.")
    args = parser.parse_args()
    env = {**os.environ, **dict(item.split("=", 1) for item in args.env)}

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
        source = (Path(args.config).resolve().parent.parent / config["data"]["train"]).resolve()
        data = folder / "train.conll"
        slice_conll(source, args.sentences, data)
        if args.mid_run:
            return mid_run(args, data, folder, env)

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
