"""``birnn-tag tune``: search a space of config values with Optuna, each trial a normal run.

Optuna (the field's common choice: Hugging Face's ``Trainer`` and EDS-NLP search through it)
gives the TPE sampler, the median pruner, and studies in shared storage that several processes
or machines work on at once. What this module adds is what makes a study of training runs safe:

- ``trials`` is the study's total, not each process's: a trial runs only while fewer than
  ``trials`` others with a lower number are finished or running (numbers come from the storage,
  so two processes cannot both take the last place; a trial that loses that race is recorded as
  failed, with the user attribute ``surplus``, and trains nothing);
- a trial is pruned on its per-epoch dev score (the score that picks ``best.pt``); its run
  folder keeps the epochs it trained, counted in the table;
- a killed process's trial is noticed by its missing heartbeat (database storage) and re-queued
  with the same values; the retry resumes the killed trial's run folder from its ``last.pt``.
  Journal-file storage has no heartbeat: a killed trial stays "running", and ``tune`` says so.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from birnn_tag.config import load_config
from birnn_tag.config.reading import save_config
from birnn_tag.errors import BirnnTagError, ConfigError, first_line
from birnn_tag.training.events import EpochDone, Event, ReportDone, StopTraining
from birnn_tag.training.loop import train
from birnn_tag.tuning.space import Dimension, read_space

logger = logging.getLogger(__name__)

# Seconds between a running trial's heartbeats, and of silence before it counts as dead.
HEARTBEAT = 5
GRACE = 20


@dataclass(frozen=True)
class TrialRow:
    """One trial: its number, state (COMPLETE, PRUNED, RUNNING, FAIL...), ``value`` (the best
    checkpoint's dev score; a pruned trial's last epoch score, as Optuna keeps it; None for the
    rest), epochs trained, the values tried, its run folder."""

    number: int
    state: str
    value: float | None
    epochs: int | None
    params: dict[str, Any]
    run_dir: str | None


@dataclass(frozen=True)
class TuneResult:
    """A study after this process's share of it: every trial, the best one, and the files
    written in ``out`` (``best.yaml``, ``trials.csv``, plots)."""

    study: str
    storage: str
    trials: list[TrialRow]
    best: TrialRow | None
    best_config: Path | None
    table: Path
    plots: list[Path]
    note: str | None = None


class _Surplus(Exception):  # noqa: N818 - not an error: the study had enough trials
    pass


def tune(
    config: Path,
    space: Path,
    trials: int,
    *,
    out: Path | None = None,
    storage: str | None = None,
    study: str | None = None,
    timeout: float | None = None,
    overrides: Sequence[str] = (),
    prune: bool = True,
    prune_after: int = 5,
    seed: int | None = None,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> TuneResult:
    """Run trials of ``config`` with values from ``space`` until the study has ``trials``
    finished ones (or ``timeout`` seconds pass); see the module's docstring. With ``prune``, a
    trial stops when its dev score after epoch 3 or later trails the median of the earlier
    trials at that epoch, once ``prune_after`` trials have finished."""
    optuna = _optuna()
    if trials < 1:
        raise ConfigError(f"--trials: expected at least 1, got {trials}")
    base = load_config(config, overrides)
    dimensions = read_space(space, config, overrides)
    out = out or Path(f"{base.output.dir}-tune")
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    name = study or config.stem
    opened = _storage(optuna, storage)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=prune_after, n_warmup_steps=3) if prune else optuna.pruners.NopPruner()
    try:
        handle = optuna.create_study(
            storage=opened, study_name=name, direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner, load_if_exists=True,
        )
    except Exception as error:  # noqa: BLE001 - SQLAlchemy, journal and Optuna errors alike: one line naming the storage
        raise ConfigError(f"--storage {storage}: cannot open study {name!r}: {first_line(error)}") from None
    objective = _Objective(optuna, handle, dimensions, config, list(overrides), out, trials, on_trial)
    note = _run(optuna, handle, objective, trials, timeout, heartbeat=isinstance(opened, optuna.storages.RDBStorage))
    keys = [dimension.key for dimension in dimensions]
    rows = [_row(trial, keys) for trial in handle.get_trials(deepcopy=False) if not trial.user_attrs.get("surplus")]
    complete = [row for row in rows if row.state == "COMPLETE" and row.value is not None]
    best = max(complete, key=lambda row: row.value) if complete else None
    best_config = None
    if best is not None:
        best_config = out / "best.yaml"
        chosen = load_config(config, [*overrides, *(d.override(best.params[d.key]) for d in dimensions if d.key in best.params)])
        save_config(replace(chosen, output=replace(chosen.output, dir=f"{base.output.dir}-best")), best_config)
    table = _write_table(rows, out / "trials.csv")
    return TuneResult(name, storage, rows, best, best_config, table, _plots(optuna, handle, out), note)


def train_seeds(config: Path, seeds: int, out: Path, overrides: Sequence[str] = ()) -> list[Path]:
    """Train ``config`` with ``training.seed`` 1…``seeds`` into ``out/seed-S``; a run that
    finished before is kept, one that stopped is resumed, so running it again completes it."""
    runs = []
    for seed in range(1, seeds + 1):
        run_dir = out / f"seed-{seed}"
        if not (run_dir / "report.json").is_file():
            _train_in(config, [*overrides, f"training.seed={seed}"], run_dir, resume=(run_dir / "last.pt").is_file())
        runs.append(run_dir)
    return runs


def _train_in(config: Path, settings: list[str], run_dir: Path, resume: bool, on_event: Callable[[Event], None] | None = None) -> None:
    """Train ``config`` with ``settings`` into ``run_dir``: resumed from its ``last.pt``, or
    replacing what a run killed before its first epoch ended left there."""
    settings = [*settings, f"output.dir={json.dumps(str(run_dir))}", "training.progress=false"]
    if run_dir.exists() and not resume:
        settings.append("output.overwrite=true")
    train(load_config(config, settings), resume=resume, on_event=on_event)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("tune: needs Optuna: pip install 'birnn-tag[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _storage(optuna: Any, storage: str) -> Any:
    """A database URL (``sqlite:///study.db``, ``postgresql://...``) with heartbeats and retries
    of killed trials, or a journal file path (for a folder shared over NFS)."""
    if "://" not in storage:
        from optuna.storages.journal import JournalFileBackend

        try:
            return optuna.storages.JournalStorage(JournalFileBackend(storage))
        except OSError as error:
            raise ConfigError(f"--storage {storage}: {error.strerror}") from None
    engine = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {}
    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(
                storage, engine_kwargs=engine, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2, inherit_intermediate_values=True),
            )
        except Exception as error:  # noqa: BLE001 - a bad URL, a missing driver, SQLAlchemy's errors: one line
            # Processes started together race to create the tables: the loser finds them made
            # (IntegrityError, or SQLite's OperationalError "already exists" / "locked").
            if attempt == 3 or not any(kind in type(error).__name__ + str(error) for kind in ("IntegrityError", "OperationalError")):
                raise ConfigError(f"--storage {storage}: {first_line(error)}") from None
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _run(optuna: Any, study: Any, objective: _Objective, trials: int, timeout: float | None, heartbeat: bool) -> str | None:
    """Take trials until the study has ``trials`` finished ones; wait while the last ones run
    elsewhere (or, with heartbeats, until a dead one is re-queued). A note when it stops short."""
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if heartbeat:
            optuna.storages.fail_stale_trials(study)
        states = [trial.state for trial in study.get_trials(deepcopy=False) if not trial.user_attrs.get("surplus")]
        finished = sum(state in finished_states for state in states)
        running = states.count(optuna.trial.TrialState.RUNNING)
        waiting = states.count(optuna.trial.TrialState.WAITING)
        if finished >= trials:
            return None
        if deadline is not None and time.monotonic() >= deadline:
            return f"--timeout: stopped with {finished} of {trials} trials finished"
        if finished + running >= trials and not waiting:
            if not heartbeat:
                return f"{running} trial(s) still running elsewhere (journal storage cannot tell a killed one: no heartbeat)"
            time.sleep(HEARTBEAT)
            continue
        study.optimize(objective, n_trials=1, catch=(_Surplus,))


class _Objective:
    """One trial: the space's values as overrides, a run folder ``out/trial-NNNN``, trained
    with pruning on the dev score; its value is the best checkpoint's validation score."""

    def __init__(self, optuna: Any, study: Any, dimensions: list[Dimension], config: Path, overrides: list[str],
                 out: Path, trials: int, on_trial: Callable[[TrialRow], None] | None) -> None:
        self.optuna, self.study, self.dimensions, self.config = optuna, study, dimensions, config
        self.overrides, self.out, self.trials, self.on_trial = overrides, out, trials, on_trial

    def __call__(self, trial: Any) -> float:
        states = (self.optuna.trial.TrialState.COMPLETE, self.optuna.trial.TrialState.PRUNED, self.optuna.trial.TrialState.RUNNING)
        ahead = [t for t in self.study.get_trials(deepcopy=False, states=states) if t.number < trial.number and not t.user_attrs.get("surplus")]
        if len(ahead) >= self.trials:
            trial.set_user_attr("surplus", True)
            raise _Surplus
        values = {dimension.key: dimension.suggest(trial) for dimension in self.dimensions}
        frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number)
        retried = self.optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
        run_dir = self.out / f"trial-{trial.number if retried is None else retried:04d}"
        resume = retried is not None and (run_dir / "last.pt").is_file()
        trial.set_user_attr("run_dir", str(run_dir))
        settings = [*self.overrides, *(d.override(values[d.key]) for d in self.dimensions)]
        scores: dict[str, float] = {}

        def listen(event: Event) -> None:
            if isinstance(event, EpochDone):
                if event.score is None:
                    raise ConfigError("tune: needs a validation split to score trials (data.validation or data.validation_fraction)")
                epoch = event.record["epoch"]
                trial.set_user_attr("epochs", epoch)
                trial.report(event.score, epoch)
                scores["last"] = event.score
                if trial.should_prune():
                    raise StopTraining
            elif isinstance(event, ReportDone) and event.split == "validation":
                scores["validation"] = event.report.score

        try:
            _train_in(self.config, settings, run_dir, resume, listen)
        except StopTraining:
            self._tell(trial, "PRUNED", scores.get("last"))
            raise self.optuna.TrialPruned() from None
        except BirnnTagError:
            self._tell(trial, "FAIL", None)
            raise
        self._tell(trial, "COMPLETE", scores["validation"])
        return scores["validation"]

    def _tell(self, trial: Any, state: str, value: float | None) -> None:
        if self.on_trial is not None:
            self.on_trial(_row(trial, [d.key for d in self.dimensions], state, value))


def _row(trial: Any, keys: list[str], state: str | None = None, value: float | None = None) -> TrialRow:
    """The row of a stored trial, or of a running one with the ``state`` and ``value`` it is
    about to end with; its values in the space file's order (Optuna sorts them by name)."""
    params = {key: trial.params[key] for key in keys if key in trial.params}
    if state is None:
        state, value = trial.state.name, trial.value
    return TrialRow(trial.number, state, value, trial.user_attrs.get("epochs"), params, trial.user_attrs.get("run_dir"))


def _write_table(rows: list[TrialRow], path: Path) -> Path:
    import csv

    keys = list(dict.fromkeys(key for row in rows for key in row.params))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "epochs", *keys, "run_dir"])
        for row in rows:
            writer.writerow([row.number, row.state, "" if row.value is None else row.value, row.epochs or "", *(row.params.get(k, "") for k in keys), row.run_dir or ""])
    return path


def _plots(optuna: Any, study: Any, out: Path) -> list[Path]:
    """Optuna's matplotlib views of the study, where the ``[plots]`` extra is installed and the
    study has enough trials for each."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    views = {
        "history": optuna.visualization.matplotlib.plot_optimization_history,
        "importances": optuna.visualization.matplotlib.plot_param_importances,
        "intermediate": optuna.visualization.matplotlib.plot_intermediate_values,
    }
    written = []
    for name, view in views.items():
        try:
            axes = view(study)
        except (ValueError, RuntimeError) as error:  # too few complete trials for this view
            logger.info("tune: no %s plot: %s", name, first_line(error))
            continue
        figure = numpy.ravel(axes)[0].figure  # one Axes, or an array of them
        figure.tight_layout()
        figure.savefig(out / f"{name}.png", dpi=110)
        plt.close(figure)
        written.append(out / f"{name}.png")
    return written
