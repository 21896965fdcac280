"""Kill a training with SIGKILL at random moments and check that nothing is lost or wrong.

    python benchmarks/fault_injection.py --tries 20
    python benchmarks/fault_injection.py --config configs/sample.yaml --tries 50 --set training.epochs=4 --seed 1

One uninterrupted run is the reference; the moments its epochs ended are noted. Each try starts
the same training in a fresh folder and picks a phase at random: the first epoch, one of the
later ones, or the final reports. It waits until the try has written the epochs before that
phase (so a busier or quieter machine does not shift the kills out of the run), then kills it
(``kill -9``) at a moment drawn uniformly over the phase's length in the reference, checks that
every checkpoint left behind loads, then finishes the run with ``--resume`` (or starts it again
with ``--overwrite`` when no epoch was saved yet) and compares with the reference: the final
``best.pt`` and ``last.pt`` weights bit for bit, ``metrics.jsonl`` (timings aside) and
``report.json``. Dropout is on (the sample config's 0.3), so the dropout masks must match too.
Prints one line per try and a summary; exits 1 if any try differs.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from birnn_tag.runs.checkpoint import read_checkpoint
from birnn_tag.runs.folder import LOCK_NAME

ROOT = Path(__file__).resolve().parent.parent


def train(config: str, run: Path, sets: list[str], *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "birnn_tag", "train", config, "--set", f"output.dir={run}",
               "--set", "training.progress=false", *(arg for s in sets for arg in ("--set", s)), *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, errors = process.communicate()
    if process.returncode:
        raise SystemExit(f"training failed ({process.returncode}): {errors.strip()[-2000:]}")


def wait_for_lock(process: subprocess.Popen, run: Path) -> float:
    """Wait until the training has locked its run folder (its config is read, its data not yet);
    returns that moment. Times are counted from there, not from process start, which varies."""
    while process.poll() is None and not (run / LOCK_NAME).exists():
        time.sleep(0.005)
    return time.perf_counter()


def epochs_written(run: Path) -> int:
    metrics = run / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.is_file() else 0


def reference_run(config: str, run: Path, sets: list[str]) -> tuple[float, list[float]]:
    """Train the reference; returns when its first epoch started (the first epoch's end less the
    mean epoch time, in seconds after the lock) and the lengths of its phases: each epoch, then
    the final reports."""
    process = train(config, run, sets)
    started = wait_for_lock(process, run)
    ends: list[float] = []
    while process.poll() is None:
        ends += [time.perf_counter() - started] * (epochs_written(run) - len(ends))
        time.sleep(0.005)
    finish(process)
    duration = time.perf_counter() - started
    later = [after - before for before, after in zip(ends, ends[1:])]
    first = sum(later) / len(later) if later else ends[0]
    return max(0.0, ends[0] - first), [first, *later, duration - ends[-1]]


def kill_during(process: subprocess.Popen, run: Path, phase: int, delay: float) -> None:
    """SIGKILL ``delay`` seconds into ``phase``, which starts when epoch ``phase`` has written
    its metrics line (phase 0, the first epoch: ``delay`` is counted from the lock)."""
    while process.poll() is None and epochs_written(run) < phase:
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()


def outcome(run: Path) -> dict:
    """What an uninterrupted and a resumed run must share."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {
        "best": read_checkpoint(run / "best.pt")["model"],
        "last": read_checkpoint(run / "last.pt")["model"],
        "metrics": [{k: v for k, v in r.items() if "seconds" not in k and "per_s" not in k} for r in records],
        "report": json.loads((run / "report.json").read_text()),
    }


def differences(expected: dict, actual: dict) -> list[str]:
    found = [name for name in ("metrics", "report") if expected[name] != actual[name]]
    for name in ("best", "last"):
        if any(not torch.equal(value, actual[name][key]) for key, value in expected[name].items()):
            found.append(f"{name}.pt weights")
    return found


def left_behind(run: Path) -> str:
    """Which checkpoints a killed run left, after checking that each of them loads."""
    present = []
    for name in ("best.pt", "last.pt"):
        if (run / name).is_file():
            epoch = read_checkpoint(run / name)["state"]["epoch"]  # raises on a torn or truncated file
            present.append(f"{name} (epoch {epoch})")
    temporary = [path.name for path in run.glob("*.tmp")]
    return ", ".join(present + temporary) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/sample.yaml")
    # One thread: results compared bit for bit need the same thread count in every run, and the
    # count adapts to the cores other processes leave free (birnn_tag/runtime/threads.py).
    parser.add_argument("--set", dest="sets", action="append", default=["training.threads=1"])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    args = parser.parse_args()
    draw = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="fault-injection-"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    print(f"{cpu}, torch {torch.__version__}, {args.config} {' '.join(args.sets)}, runs in {folder}")

    start, phases = reference_run(args.config, folder / "reference", args.sets)
    expected = outcome(folder / "reference")
    print(f"reference: {len(phases) - 1} epochs from {start:.1f} s after its lock, "
          f"{sum(phases[:-1]) / (len(phases) - 1):.2f} s each, then {phases[-1]:.1f} s of final reports\n")
    print("| try | kill aimed at | left behind (each file loads) | resumed with | result |\n|---|---|---|---|---|")
    failures = 0
    for attempt in range(1, args.tries + 1):
        run = folder / f"try-{attempt}"
        phase = draw.randrange(len(phases))
        delay = draw.uniform(0, phases[phase])
        process = train(args.config, run, args.sets)
        wait_for_lock(process, run)
        kill_during(process, run, phase, delay + (start if phase == 0 else 0.0))
        where = f"epoch {phase + 1}" if phase < len(phases) - 1 else "final reports"
        killed = "finished first" if process.returncode == 0 else f"{where}, +{delay:.2f} s"
        left = left_behind(run) if run.exists() else "no folder"
        how = "--resume" if (run / "last.pt").is_file() else "--overwrite"
        finish(train(args.config, run, args.sets, how))
        wrong = differences(expected, outcome(run))
        temporary = sorted(path.name for path in run.glob("*.tmp"))
        wrong += [f"left {', '.join(temporary)}"] if temporary else []
        failures += bool(wrong)
        print(f"| {attempt} | {killed} | {left} | {how} | {'differs: ' + ', '.join(wrong) if wrong else 'identical'} |")
    print(f"\n{args.tries - failures} of {args.tries} tries ended identical to the uninterrupted run")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
