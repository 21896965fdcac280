"""``birnn-tag train``, ``tune`` and ``plot``: a run, a search over runs, and pictures of runs' learning curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import RenderableType
from typer.core import TyperCommand

from birnn_tag.cli.console import setup_logging, stderr, stdout, user_errors
from birnn_tag.cli.options import RESUMING, ResumeMode
from birnn_tag.cli.view import TrainingView

if TYPE_CHECKING:
    from birnn_tag.tuning.study import TrialRow, TuneResult


def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key: section.key=value (repeatable).")] = None,
    resume: Annotated[Optional[ResumeMode], typer.Option(metavar="[auto]", help="Continue the run in output.dir from its last.pt; --resume auto: when there is one, else start it (torchrun --max-restarts).")] = None,
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
            run_dir = api.train(resolved, resume=RESUMING[resume], on_event=view.show)
    stderr.print(f"run folder: {run_dir}")


class TrainCommand(TyperCommand):
    """``train``, whose ``--resume`` takes an optional value: alone it means ``yes`` (as it did
    before ``auto``), and ``--no-resume`` means ``no``. Typer's parser has no optional values, so
    the two bare forms are spelled out before it parses."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        values = {mode.value for mode in ResumeMode}
        spelled = []
        for position, arg in enumerate(args):
            if arg == "--resume" and (position + 1 == len(args) or args[position + 1] not in values):
                arg = "--resume=yes"
            spelled.append("--resume=no" if arg == "--no-resume" else arg)
        return super().parse_args(ctx, spelled)


def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (their metrics.jsonl).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")],
) -> None:
    """Draw runs' learning curves (training loss, dev scores, learning rate per epoch), overlaid."""
    from birnn_tag.runs.plots import plot_curves

    with user_errors():
        plot_curves(runs, output)
    stderr.print(f"drew {output}")


def tune(
    config: Annotated[Path, typer.Argument(help="YAML config file (the base every trial changes).")],
    space: Annotated[Path, typer.Option(help="YAML search space: one config key each, e.g. 'training.lr: {type: float, low: 0.001, high: 0.1, log: true}'.")],
    trials: Annotated[int, typer.Option(min=1, help="Finished trials the study needs, shared by every process working on it.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key of the base: section.key=value (repeatable).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder of the trials' run folders and the results (default: <output.dir>-tune).")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study storage: a database URL (sqlite:///study.db, postgresql://...) or a journal file path (default: OUT/study.db).")] = None,
    study: Annotated[Optional[str], typer.Option(help="Study name (default: the config file's name).")] = None,
    timeout: Annotated[Optional[float], typer.Option(min=0, help="Start no trial after this many seconds.")] = None,
    prune: Annotated[bool, typer.Option(help="Stop trials whose dev score trails the median of earlier trials at the same epoch (from epoch 3).")] = True,
    prune_after: Annotated[int, typer.Option(min=0, help="Prune only once this many trials have finished.")] = 5,
    seed: Annotated[Optional[int], typer.Option(help="The TPE sampler's seed.")] = None,
    seeds: Annotated[int, typer.Option(min=0, help="Then train the best config and the base with this many seeds and compare them.")] = 0,
) -> None:
    """Search config values with Optuna (TPE, median pruning); each trial is a run folder. Writes the best config as best.yaml."""
    from birnn_tag import api

    setup_logging()

    def show(row: TrialRow) -> None:
        score = "" if row.value is None else f" dev {row.value:.4f}"
        values = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in row.params.items())
        stderr.print(f"trial {row.number}: {row.state.lower()} after {row.epochs or 0} epoch(s){score} ({values})")

    with user_errors():
        result = api.tune(
            config, space, trials, overrides=list(set_ or []), out=out, storage=storage, study=study,
            timeout=timeout, prune=prune, prune_after=prune_after, seed=seed, seeds=seeds, on_trial=show,
        )
    found = result.study
    stdout.print(_trials_table(found))
    if found.note:
        stderr.print(found.note)
    if found.best is None:
        stderr.print("no trial has finished yet: no best config")
        raise typer.Exit(1)
    stderr.print(f"best: trial {found.best.number}, dev {found.best.value:.4f} → {found.best_config}")
    stderr.print(f"trials: {found.table}" + "".join(f", {plot}" for plot in found.plots))
    if result.comparison is not None:
        stdout.print(result.comparison.table(f"best config (B) vs base (A), {len(result.best_runs)} seeds each, test split"))


def _trials_table(found: TuneResult) -> RenderableType:
    from rich.table import Table

    table = Table(title=f"study {found.study} ({found.storage})")
    keys = list(dict.fromkeys(key for row in found.trials for key in row.params))
    for column in ("trial", "state", "dev", "epochs", *keys):
        table.add_column(column, justify="left" if column == "state" else "right")
    for row in found.trials:
        values = [f"{row.params[k]:.4g}" if isinstance(row.params.get(k), float) else str(row.params.get(k, "")) for k in keys]
        table.add_row(str(row.number), row.state.lower(), "" if row.value is None else f"{row.value:.4f}", str(row.epochs or ""), *values)
    return table
