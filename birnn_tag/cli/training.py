"""``birnn-tag train`` and ``plot``: a run, and pictures of runs' learning curves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from birnn_tag.cli.console import setup_logging, stderr, user_errors
from birnn_tag.cli.view import TrainingView


def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key: section.key=value (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in output.dir from its last.pt.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
) -> None:
    """Train a tagger or a cloze model; writes a run folder with config, vocab, checkpoints, metrics and reports."""
    from birnn_tag import api
    from birnn_tag.config import load_config

    setup_logging()
    with user_errors():
        overrides = list(set_ or []) + (["output.overwrite=true"] if overwrite else [])
        resolved = load_config(config, overrides)
        with TrainingView(stderr, progress=resolved.training.progress) as view:
            run_dir = api.train(resolved, resume=resume, on_event=view.show)
    stderr.print(f"run folder: {run_dir}")


def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (their metrics.jsonl).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")],
) -> None:
    """Draw runs' learning curves (training loss, dev scores, learning rate per epoch), overlaid."""
    from birnn_tag.runs.plots import plot_curves

    with user_errors():
        plot_curves(runs, output)
    stderr.print(f"drew {output}")
