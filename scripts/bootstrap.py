"""Set up a virtual environment and run the demo or the test suite, with nothing but python3.

    python3 scripts/bootstrap.py demo   # .venv + install + train/evaluate/predict on data/sample
    python3 scripts/bootstrap.py test   # .venv + install + the test suite

torch is installed first, pinned (``TORCH_SPEC``, default ``torch==2.13.0``): letting pip resolve a
bare ``torch`` requirement would pull several GB of CUDA packages. To pick a wheel index (for
example PyTorch's CPU-only one), set ``TORCH_INDEX_URL``. An existing ``.venv`` is reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("BIRNN_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*command: str | Path) -> None:
    """Run a command from the repository root; stop with its exit code if it fails."""
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=ROOT)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def has_torch() -> bool:
    return subprocess.run([str(PYTHON), "-c", "import torch"], capture_output=True).returncode == 0


def install() -> None:
    """Create the environment, install torch (first, pinned) and the package with the test
    extras and the optional ones (export, serve, plots, tensorboard, transformers, spacy, tune, hub, ray), so that the suite tests them too."""
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    if not has_torch():
        index = os.environ.get("TORCH_INDEX_URL")
        run(PYTHON, "-m", "pip", "install", "-q", os.environ.get("TORCH_SPEC", "torch==2.13.0"),
            *(["--index-url", index] if index else []))
    run(PYTHON, "-m", "pip", "install", "-q", "-e", f"{ROOT}[test,export,serve,plots,tensorboard,transformers,spacy,tune,hub,ray]")


def demo() -> None:
    """Train on the bundled sample, evaluate the run, and tag a few raw sentences."""
    cli = BIN / "birnn-tag"
    run(cli, "train", "configs/sample.yaml", "--overwrite")
    run(cli, "evaluate", "runs/sample", "--split", "test")
    run(cli, "predict", "runs/sample", "data/sample/sentences.txt", "--format", "jsonl", "-o", "runs/sample/sentences.jsonl")
    print((ROOT / "runs/sample/sentences.jsonl").read_text(encoding="utf-8"))


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ("demo", "test"):
        sys.exit("usage: python3 scripts/bootstrap.py demo|test")
    install()
    if sys.argv[1] == "demo":
        demo()
    else:
        run(PYTHON, "-m", "pytest", "tests")


if __name__ == "__main__":
    main()
