"""Train the speed-first GloVe recipe on a GPU, tag with it, and write what was measured: one run,
prepared to be started once on a lent GPU machine.

    python3 scripts/benchmark_gpu.py --out runs/benchmark-gpu.json               # on the GPU machine
    python3 scripts/benchmark_gpu.py --device cpu --smoke --out /tmp/smoke.json  # here, in seconds

What it does, in order:
  1. checks the environment and the data: torch (a CUDA build seeing a GPU, for ``--device
     cuda``), birnn-tag's dependencies, ``birnn_tag`` itself (from this checkout when it is not
     installed), the CoNLL-2003 and GloVe files. It downloads nothing: a missing piece ends the
     script with one line saying what to install or copy (``--install`` runs ``pip install -e .``);
  2. trains configs/conll2003-glove-fast.yaml through ``birnn_tag.train`` with
     ``training.device``, a larger ``--batch-size`` and ``--epochs`` (``--amp``: bf16 autocast),
     and reads each epoch's training sentences/s from the run's ``metrics.jsonl``
     (``train_sentences / train_seconds``) and the test F1 from its ``report-test.json``;
  3. loads the run with ``birnn_tag.load(run, device=...)`` and times ``tag_stream`` over the test
     set and over ``--tag-sentences`` sentences made by repeating it, per batch size, without and
     with confidences, each after a warm-up pass, the device synchronised before and after;
  4. writes one JSON file (``--out``: machine, settings, per-epoch rates, tagging rates, F1, and
     the issue's marks passed or failed as measured) and prints a markdown table for
     docs/benchmarks.md.

The GPU machine reaches neither ``../shared`` nor the internet: copy the data into the checkout
and pass ``--data-dir`` (CoNLL-2003 in DIR/conll2003/eng.{train,testa,testb}) and ``--embeddings``.
The full ``glove.6B.50d.txt.gz`` is over that machine's upload limit; the CoNLL-filtered copy
``glove.6B.50d.conll2003.txt`` holds GloVe's line for every lowercased CoNLL-2003 word
(its PROVENANCE.md), and ``encoding.include_pretrained`` adds only the splits' words, so the
run gets the same vocabulary and vectors from it; the JSON names the file used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported once the environment is checked
    from birnn_tag.tagging.public.pytorch import TaggingModel

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "conll2003-glove-fast.yaml"
TINY = REPO / "tests" / "fixtures" / "tiny.conll"
CUDA_TORCH = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130"
CPU_TORCH = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
# birnn-tag's dependencies (pyproject.toml) by import name, and their pip names where they differ.
DEPENDENCIES = {"yaml": "pyyaml", "typer": "typer", "rich": "rich", "regex": "regex",
                "datasets": "datasets", "seqeval": "seqeval", "sklearn": "scikit-learn"}
# The marks. The F1 band is the CPU recipe's spread over 3 seeds (configs/conll2003-glove-fast.yaml).
TRAIN_MARK, TAG_MARK, F1_CENTRE, F1_SPREAD = 10_000, 50_000, 90.27, 0.03


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--smoke", action="store_true", help="tiny data, random embeddings, 2 epochs: checks the script end to end")
    parser.add_argument("--epochs", type=int, help="default 30 (smoke: 2)")
    parser.add_argument("--batch-size", type=int, help="training batch size; default 256 (smoke: 4)")
    parser.add_argument("--amp", action="store_true", help="train under bf16 autocast (training.amp=true)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "auto"], help="tagging precision; default the run's training.eval_precision")
    parser.add_argument("--tag-batch-sizes", help="comma-separated; default 256,1024,4096 (smoke: 64)")
    parser.add_argument("--tag-sentences", type=int, help="the large input's size, the test set repeated; default 100000 (smoke: 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the test set (the best counts); the large input gets one")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data", help="holds conll2003/eng.{train,testa,testb}")
    parser.add_argument("--embeddings", type=Path, help="default DATA_DIR/embeddings/glove.6B.50d.txt.gz")
    parser.add_argument("--run-dir", type=Path, help="the training run's folder; default runs/benchmark-gpu (smoke: runs/benchmark-gpu-smoke)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark-gpu.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="more config overrides, applied last")
    parser.add_argument("--install", action="store_true", help="run `pip install -e .` for this checkout first")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.epochs = args.epochs or (2 if smoke else 30)
    args.batch_size = args.batch_size or (4 if smoke else 256)
    args.tag_batch_sizes = [int(size) for size in (args.tag_batch_sizes or ("64" if smoke else "256,1024,4096")).split(",")]
    args.tag_sentences = args.tag_sentences or (2000 if smoke else 100_000)
    args.embeddings = args.embeddings or args.data_dir / "embeddings" / "glove.6B.50d.txt.gz"
    args.run_dir = args.run_dir or REPO / "runs" / ("benchmark-gpu-smoke" if smoke else "benchmark-gpu")
    for name in ("data_dir", "embeddings", "run_dir", "out"):  # absolute before main() moves to the checkout
        setattr(args, name, getattr(args, name).resolve())
    return args


# ---------------------------------------------------------------------------------------------
# 1. The environment: say what is missing, in one line, and stop.


def torch_problem(device: str) -> str | None:
    """Why torch cannot run this benchmark on ``device``, or None."""
    if importlib.util.find_spec("torch") is None:
        return f"torch is not installed: {CUDA_TORCH if device == 'cuda' else CPU_TORCH}"
    import torch

    if device == "cuda" and torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU build; a CUDA build (torch>=2.6) is needed, e.g. {CUDA_TORCH}"
    if device == "cuda" and not torch.cuda.is_available():
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check nvidia-smi and CUDA_VISIBLE_DEVICES"
    return None


def package_problem() -> str | None:
    """Why ``birnn_tag`` cannot be imported, or None; this checkout is used when it is not installed."""
    missing = [pip for module, pip in DEPENDENCIES.items() if importlib.util.find_spec(module) is None]
    if missing:
        return (f"missing Python packages: pip install {' '.join(missing)} "
                "(without internet: carry their wheels, built where pip works, and pip install --no-index them)")
    if importlib.util.find_spec("birnn_tag") is None:
        sys.path.insert(0, str(REPO))
    try:
        import birnn_tag  # noqa: F401  (its torch-version check runs here)
    except ImportError as error:
        return f"cannot import birnn_tag ({error}): run `pip install -e .` in {REPO}, or rerun with --install"
    return None


def data_files(args: argparse.Namespace) -> dict[str, Path]:
    """The files the run reads, by the setting that names them."""
    if args.smoke:
        return {"data.train": TINY, "data.validation": TINY, "data.test": TINY}
    conll = args.data_dir / "conll2003"
    return {"data.train": conll / "eng.train", "data.validation": conll / "eng.testa",
            "data.test": conll / "eng.testb", "model.embeddings": args.embeddings}


def environment_problem(args: argparse.Namespace) -> str | None:
    """The first reason this benchmark cannot run here, or None."""
    problem = torch_problem(args.device)
    if problem is None and args.install:
        command = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "-e", str(REPO)]
        if subprocess.run(command, check=False).returncode:
            problem = f"`{' '.join(command)}` failed (its output is above)"
    problem = problem or package_problem()
    for setting, path in data_files(args).items():
        if problem is None and not path.is_file():
            problem = f"{setting}: {path} is missing: copy it there, or pass --data-dir/--embeddings (this script downloads nothing)"
    return problem


# ---------------------------------------------------------------------------------------------
# 2. Training.


def training_overrides(args: argparse.Namespace) -> list[str]:
    """The ``--set`` overrides of the recipe for this benchmark."""
    overrides = [f"{setting}={path}" for setting, path in data_files(args).items()]
    overrides += [f"training.device={args.device}", f"training.batch_size={args.batch_size}", f"training.epochs={args.epochs}",
                  "training.progress=false",  # progress reads the loss off the device every 20 steps
                  f"output.dir={args.run_dir}", "output.overwrite=true"]
    if args.amp:
        overrides.append("training.amp=true")
    if args.smoke:
        overrides += ["model.embeddings=null", "encoding.include_pretrained=false", "training.threads=1"]
    return overrides + args.overrides


def train(args: argparse.Namespace, overrides: list[str]) -> tuple[Path, list[float], float]:
    """Train the recipe; the run folder, when each epoch's record came (``perf_counter``), and
    the whole call's seconds (reading and encoding the data, final reports included)."""
    import birnn_tag
    from birnn_tag.training.events import EpochDone, Message

    arrivals: list[float] = []

    def listen(event: object) -> None:
        if isinstance(event, EpochDone):
            arrivals.append(time.perf_counter())
            record = event.record
            rate = record["train_sentences"] / record["train_seconds"]
            print(f"epoch {record['epoch']}: {down(rate)} training sentences/s, dev score {event.score}", flush=True)
        elif isinstance(event, Message):
            print(event.text, flush=True)

    started = time.perf_counter()
    run = birnn_tag.train(CONFIG, overrides, on_event=listen)
    return Path(run), arrivals, time.perf_counter() - started


def epoch_rates(run: Path, arrivals: list[float]) -> list[dict]:
    """Per epoch, from ``metrics.jsonl``: training sentences and seconds and their rate; and
    ``wall_seconds``, the time since the previous epoch's record (training, dev scoring and
    checkpoints: a bound that no unsynchronised timer can flatter), None for the first."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = []
    for index, record in enumerate(records):
        wall = arrivals[index] - arrivals[index - 1] if 0 < index < len(arrivals) else None
        rows.append({
            "epoch": record["epoch"], "train_sentences": record["train_sentences"], "train_seconds": record["train_seconds"],
            "sentences_per_s": record["train_sentences"] / record["train_seconds"], "wall_seconds": wall,
            "dev": {key: value for key, value in record.items() if key.startswith("dev_")},
        })
    return rows


def report_score(run: Path, split: str) -> float | None:
    """The headline score (entity F1, in %) of the run's ``report-<split>.json``."""
    path = run / f"report-{split}.json"
    return 100 * json.loads(path.read_text())["score"] if path.is_file() else None


# ---------------------------------------------------------------------------------------------
# 3. Tagging.


def timed_tagging(
    model: TaggingModel, sentences: list[list[str]], batch_size: int, confidences: bool, sync: Callable[[], None]
) -> float:
    """Seconds to tag ``sentences`` and take every prediction, the device idle at both ends."""
    sync()
    started = time.perf_counter()
    count = sum(1 for _ in model.tag_stream(sentences, batch_size=batch_size, confidences=confidences))
    sync()
    seconds = time.perf_counter() - started
    assert count == len(sentences), (count, len(sentences))  # our own bookkeeping, not user input
    return seconds


def tagging_rates(args: argparse.Namespace, run: Path) -> tuple[list[dict], dict]:
    """Sentences/s of ``tag_stream`` on the test set (best of ``--repeats``) and on the large
    input (one pass), per batch size, without and with confidences, each after a warm-up pass
    over the test set; and what was tagged."""
    import torch

    import birnn_tag
    from birnn_tag.runtime.precision import resolve_precision

    model = birnn_tag.load(run, device=args.device, precision=args.precision)
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    test_file = Path(model.config.data.test)  # the run's, --set overrides included
    with test_file.open("rb") as handle:
        test = [list(sentence.tokens) for sentence in model.read_inputs(handle, str(test_file), "conll")]
    large = (test * math.ceil(args.tag_sentences / len(test)))[: args.tag_sentences]
    rows = []
    for batch_size in args.tag_batch_sizes:
        for confidences in (False, True):
            timed_tagging(model, test, batch_size, confidences, sync)  # warm-up: kernels, autocast's weight copies
            test_seconds = min(timed_tagging(model, test, batch_size, confidences, sync) for _ in range(args.repeats))
            large_seconds = timed_tagging(model, large, batch_size, confidences, sync)
            rows.append({"batch_size": batch_size, "confidences": confidences,
                         "test_sentences_per_s": len(test) / test_seconds, "large_sentences_per_s": len(large) / large_seconds,
                         "test_seconds": test_seconds, "large_seconds": large_seconds})
            print(f"tagging batch {batch_size}, confidences {confidences}: {down(rows[-1]['large_sentences_per_s'])} sentences/s", flush=True)
    inputs = {"test_file": str(test_file), "test_sentences": len(test), "test_tokens": sum(map(len, test)),
              "large_sentences": len(large), "precision": model.precision,
              "precision_resolved": resolve_precision(model.precision, model.device)}
    return rows, inputs


# ---------------------------------------------------------------------------------------------
# 4. The record and the table.


def cpu_model() -> str:
    """The CPU's model name, from lscpu (or /proc/cpuinfo)."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def machine(device: str) -> dict:
    import torch

    import birnn_tag

    cuda = device == "cuda"
    try:  # the GPU machine's copy of the checkout may have no .git, or no git
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=False, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_peak_memory_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "cpu": cpu_model(), "cpu_cores": os.cpu_count(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None, "python": platform.python_version(),
        "birnn_tag": birnn_tag.__version__, "commit": commit or None,
    }


def marks(training: dict, tagging: dict, test_f1: float | None) -> dict:
    """The issue's marks, passed or failed on the unrounded measurements."""
    low, high = round(F1_CENTRE - F1_SPREAD, 2), round(F1_CENTRE + F1_SPREAD, 2)
    side = None if test_f1 is None else "below" if test_f1 < low else "above" if test_f1 > high else "within"
    return {
        "training": {"target": TRAIN_MARK, "measured": training["median"], "passed": training["median"] >= TRAIN_MARK,
                     "measure": "median of the epochs' train_sentences / train_seconds, the first epoch left out (warm-up)"},
        "tagging": {"target": TAG_MARK, "measured": tagging["best"], "passed": tagging["best"] >= TAG_MARK,
                    "measure": f"tag_stream over the large input, no confidences, best batch size ({tagging['best_batch_size']})"},
        "test_f1": {"target": f"{F1_CENTRE} ± {F1_SPREAD}", "low": low, "high": high, "measured": test_f1,
                    "passed": side == "within", "side": side},
    }


def summarise(epochs: list[dict], tagging_rows: list[dict]) -> tuple[dict, dict]:
    rates = [row["sentences_per_s"] for row in epochs]
    walls = [row["train_sentences"] / row["wall_seconds"] for row in epochs if row["wall_seconds"]]
    training = {"best": max(rates), "median": statistics.median(rates[1:] or rates), "median_all": statistics.median(rates),
                "median_wall": statistics.median(walls) if walls else None}
    plain = [row for row in tagging_rows if not row["confidences"]]
    best = max(plain, key=lambda row: row["large_sentences_per_s"])
    tagging = {"best": best["large_sentences_per_s"], "best_batch_size": best["batch_size"]}
    return training, tagging


def down(value: float | None, digits: int = 0) -> str:
    """``value`` shown with ``digits`` decimals, truncated (never rounded up), with thousands commas."""
    if value is None:
        return "–"
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:,.{digits}f}"


def yes(mark: dict) -> str:
    return "yes" if mark["passed"] else "no"


def table(result: dict) -> str:
    """The markdown table for docs/benchmarks.md; the tagging mark is judged on the row it names."""
    settings, training, mark, tagging = result["settings"], result["training"], result["marks"], result["tagging"]
    inputs, gpu = tagging["inputs"], result["machine"]["gpu"] or result["machine"]["cpu"]
    title = (f"{gpu}, torch {result['machine']['torch']}, {settings['config']}, batch {settings['batch_size']}, "
             f"{len(result['epochs'])} epochs, training {'bf16 autocast' if settings['amp'] else 'fp32'}, "
             f"tagging {inputs['precision_resolved']}")
    median = (f"| training, median epoch (first left out) | {down(training['median'])} (best {down(training['best'])}) "
              f"| ≥ {TRAIN_MARK:,} | {yes(mark['training'])} |")
    lines = [title, "", "| measure | sentences/s | mark | passed |", "|---|---|---|---|", median,
             f"| training, median epoch with dev scoring and checkpoints | {down(training['median_wall'])} | | |"]
    for row in tagging["rates"]:
        judged = not row["confidences"] and row["batch_size"] == tagging["best_batch_size"]
        lines.append(f"| tagging {inputs['large_sentences']:,} sentences, batch {row['batch_size']}, "
                     f"{'with' if row['confidences'] else 'no'} confidences | {down(row['large_sentences_per_s'])} "
                     f"(test set: {down(row['test_sentences_per_s'])}) | {f'≥ {TAG_MARK:,}' if judged else ''} "
                     f"| {yes(mark['tagging']) if judged else ''} |")
    f1 = mark["test_f1"]
    lines.append(f"| test F1 (seqeval strict micro) | {down(f1['measured'], 2)} | {f1['target']} | {yes(f1)} ({f1['side']}) |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # datasets reads local files only; never wait on the network
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    problem = environment_problem(args)
    if problem:
        sys.exit(f"benchmark_gpu: {problem}")
    os.chdir(REPO)  # the recipe's relative paths are relative to the checkout
    from birnn_tag import BirnnTagError

    overrides = training_overrides(args)
    try:
        run, arrivals, train_seconds = train(args, overrides)
        epochs = epoch_rates(run, arrivals)
        tagging_rows, inputs = tagging_rates(args, run)
    except BirnnTagError as error:  # a bad --set or --precision: its one-line message, as the CLI prints it
        sys.exit(f"benchmark_gpu: {error}")
    training, tagging = summarise(epochs, tagging_rows)
    test_f1 = report_score(run, "test")
    result = {
        "machine": machine(args.device),
        "settings": {"config": str(CONFIG.relative_to(REPO)), "overrides": overrides, "device": args.device, "smoke": args.smoke,
                     "epochs": args.epochs, "batch_size": args.batch_size, "amp": args.amp, "tag_batch_sizes": args.tag_batch_sizes,
                     "tag_sentences": args.tag_sentences, "repeats": args.repeats, "embeddings": None if args.smoke else str(args.embeddings),
                     "run": str(run)},
        "epochs": epochs,
        "training": {**training, "epochs_run": len(epochs), "train_call_seconds": train_seconds},
        "tagging": {"rates": tagging_rows, "inputs": inputs, **tagging},
        "test_f1": test_f1,
        "dev_f1": report_score(run, "validation"),
    }
    result["marks"] = marks(result["training"], tagging, test_f1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
