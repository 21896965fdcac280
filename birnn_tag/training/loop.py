"""The training loop: epochs, early stopping on the dev score, checkpoints, metrics, final reports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from birnn_tag.training import distributed
from birnn_tag.runs.checkpoint import read_checkpoint, save_checkpoint
from birnn_tag.config import Config, config_from_dict, save_config
from birnn_tag.runtime.devices import resolve_device
from birnn_tag.runtime.precision import resolve_precision
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.training.epoch import learning_rate, make_optimizer, train_epoch, training_precision
from birnn_tag.errors import BirnnTagError, CheckpointError, first_line
from birnn_tag.training.events import EpochDone, Listener, Message, ReportDone, StepsDone, ignore
from birnn_tag.files import append_line, write_atomic
from birnn_tag.runs.plots import plot_curves
from birnn_tag.runs.folder import Resume, RunLock, check_run_dir, clear_run_folder, resolve_resume
from birnn_tag.tasks import task_for
from birnn_tag.training.tensorboard_log import tensorboard_listener
from birnn_tag.training.tracking import Tracker
from birnn_tag.runtime.threads import ThreadController


@dataclass
class TrainState:
    """What ``--resume`` needs besides the weights."""

    epoch: int = 0
    best_score: float = float("-inf")
    best_epoch: int = 0
    bad_epochs: int = 0


@dataclass
class Session:
    """What a training run carries from epoch to epoch. ``model`` may be wrapped in DDP."""

    config: Config
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    splits: dict[str, Split]
    vocabs: Vocabularies
    device: torch.device
    state: TrainState
    run_dir: Path
    emit: Listener
    context: distributed.Context
    threads: ThreadController
    # Whether the run folder holds this run's files yet (a new run writes them with its first
    # checkpoint, so that stopping before then leaves an old run being overwritten intact).
    written: bool


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of the random numbers (dropout masks) drawn in one epoch by one rank.

    Every epoch starts from a seed of its own instead of carrying the generators' state over, so
    a resumed run draws exactly what the uninterrupted run drew, on any device and every rank.
    """
    return ((seed * 1_000_003 + epoch) * 1_009 + rank) % 2**63


def _inputs(config: Config) -> list[str]:
    """The files and folders a run reads, which replacing a run folder must never delete."""
    data, model = config.data, config.model
    trains = data.train if isinstance(data.train, list) else [data.train]
    teaching = (config.training.teacher, *config.training.teacher_text)
    named = (*trains, data.validation, data.test, data.disk, *model.input_paths(), *teaching)
    return [name for name in named if name]


def train(config: Config, *, resume: Resume = False, on_event: Listener | None = None) -> Path:
    """Train a model as configured; returns the run folder.

    ``resume``: True continues the run from its ``last.pt``; ``"auto"`` does when there is one
    and starts the run otherwise, so that torchrun's elastic restarts can repeat one command line.

    The run folder holds ``config.yaml``, ``vocab.json``, ``metrics.jsonl``, ``best.pt``,
    ``last.pt`` and ``report.{txt,json}`` (test split, or validation when there is no test).
    Under torchrun every rank trains its share; only rank 0 writes, and only rank 0 reports
    progress to ``on_event`` (:mod:`birnn_tag.training.events`).
    """
    run_dir = Path(config.output.dir)
    resume, replace_partial = resolve_resume(run_dir, resume)
    check_run_dir(run_dir, overwrite=config.output.overwrite or replace_partial, resume=resume, inputs=_inputs(config))
    wanted = resolve_device(config.training.device)
    resolve_precision(config.training.eval_precision, wanted, "training.eval_precision")  # refused before any epoch
    resolve_precision(training_precision(config.training, wanted), wanted, "training.precision")
    context, device = distributed.setup(wanted)
    emit = on_event if on_event is not None and context.is_main else ignore
    close_log = None
    if config.training.tensorboard and context.is_main:
        emit, close_log = tensorboard_listener(run_dir, emit)
    lock = tracker = None
    error: BaseException | None = None
    try:
        lock = RunLock(run_dir) if context.is_main else None
        distributed.barrier(context)
        distributed.check_shared_folder(run_dir, resume, context)
        if config.training.tracking != "none" and context.is_main:
            tracker = Tracker.start(config, run_dir, resume)
            emit = tracker.listener(emit)
        session = _start(config, run_dir, resume, device, emit, context)
        _run_epochs(session)
        if context.is_main:
            _final_reports(session)
        distributed.barrier(context)
    except BaseException as stopped:
        error = stopped
        raise
    finally:
        if close_log is not None:
            close_log()
        if lock is not None:
            lock.release()
        if tracker is not None:
            tracker.end(error)
        distributed.cleanup(context)
    return run_dir


def _start(config, run_dir, resume, device, emit, context) -> Session:
    """Load data, build (or restore) the model and optimizer; rank 0 creates the run folder."""
    saved = read_checkpoint(run_dir / "last.pt") if resume else None
    if saved is not None and not {"optimizer", "state"} <= saved.keys():
        raise CheckpointError(f"{run_dir / 'last.pt'}: has no optimizer state to resume from (a copied best.pt?)")
    if saved is not None:
        # Continue with the run's own settings; only the epoch budget may be extended.
        saved_config = config_from_dict(saved["config"], f"{run_dir / 'last.pt'} (saved config)", saved=True)
        saved_epochs = saved_config.training.epochs
        resumed = replace(saved_config, training=replace(saved_config.training, epochs=config.training.epochs))
        differing = _differing_keys(config.to_dict(), resumed.to_dict())
        # data.scheme: auto was resolved when the run started; the saved value is what auto meant.
        ignored = [
            key for key in differing
            if not key.startswith("output.") and not (key == "data.scheme" and config.data.scheme == "auto")
        ]
        if ignored:
            emit(Message(f"--resume keeps the run's own settings; ignoring {', '.join(ignored)}", "warning"))
        config = resumed
    # Never more threads than the cores other processes leave free: each parallel region waits for
    # its slowest thread, and a thread sharing a busy core stalls them all.
    threads = ThreadController(config.training.threads, torch.set_num_threads, _threads_listener(emit))
    torch.manual_seed(config.training.seed)  # the same initial weights on every rank
    task = task_for(config)
    corpus = task.read(config)
    config = task.settle(config, corpus)
    vocabs, splits = task.encode_splits(config, corpus, Vocabularies.from_dict(saved["vocab"]) if saved else None)
    del corpus  # the splits hold what training needs
    model = task.build_model(config, vocabs, run_dir if saved is not None else None).to(device)
    with distributed.local_main_first(context):
        splits = {name: task.prepare_split(model, split) for name, split in splits.items()}
    optimizer = make_optimizer(model, config.training)
    state = TrainState()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = TrainState(**saved["state"])
        if context.is_main:
            _drop_records_after(run_dir / "metrics.jsonl", state.epoch)
            _check_best(run_dir / "best.pt", state, config.training.epochs)
        if _stopped_early(state, config) and config.training.epochs > saved_epochs:
            state.bad_epochs = 0  # a larger epoch budget asks for more epochs after an early stop
    else:
        note = task.initialize(model, config, vocabs)
        if note:
            emit(Message(note))
    sizes = [f"{len(vocabs.words):,} words"]
    sizes += [f"{len(vocabs.chars):,} chars"] if len(vocabs.chars) > 2 else []
    sizes += [f"{len(vocabs.labels)} labels"] if len(vocabs.labels) else []
    processes = f" × {context.world_size} processes" if context.active else ""
    emit(Message(
        f"{run_dir}: {len(splits['train'].sentences):,} training sentences, {', '.join(sizes)}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters on {device}{processes}"
    ))
    wrapped = distributed.wrap(model, context, device, find_unused_parameters=task.may_skip_parameters(model))
    return Session(config, wrapped, optimizer, splits, vocabs, device, state, run_dir, emit, context, threads, written=resume)


def _drop_records_after(path: Path, epoch: int) -> None:
    """Keep only ``metrics.jsonl``'s records up to ``epoch`` (the resumed checkpoint's): a run
    killed after writing an epoch's record but before its ``last.pt`` trains that epoch again."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the half-written last line of a killed run
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] <= epoch:
            kept.append(line + "\n")
    write_atomic(path, "".join(kept).encode("utf-8"))


def _check_best(path: Path, state: TrainState, epochs: int) -> None:
    """Refuse a resume that would end with a ``best.pt`` from an epoch it does not train again.

    ``best.pt`` is written before ``last.pt``, so a run killed between the two has a ``best.pt``
    one epoch ahead; training that epoch again rewrites it, unless the new epoch budget stops short.
    """
    best_epoch = read_checkpoint(path).get("state", {}).get("epoch", 0) if path.is_file() else 0
    if best_epoch > state.epoch and epochs < best_epoch:
        raise CheckpointError(
            f"{path}: is from epoch {best_epoch}, after last.pt's epoch {state.epoch}; "
            f"resume with training.epochs >= {best_epoch}"
        )


def _differing_keys(given: dict, saved: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested config dicts."""
    keys = []
    for key, value in given.items():
        if isinstance(value, dict):
            keys += _differing_keys(value, saved.get(key, {}), f"{prefix}{key}.")
        elif saved.get(key) != value:
            keys.append(f"{prefix}{key}")
    return keys


def _stopped_early(state: TrainState, config: Config) -> bool:
    return bool(config.training.patience) and state.bad_epochs >= config.training.patience


def _run_epochs(session: Session) -> None:
    config, state, context = session.config, session.state, session.context
    training, model = config.training, distributed.unwrap(session.model)
    has_dev = "validation" in session.splits
    if _stopped_early(state, config):
        return  # a resumed run that had stopped early (killed during its final reports, say)
    for epoch in range(state.epoch + 1, training.epochs + 1):
        torch.manual_seed(epoch_seed(training.seed, epoch, context.rank))
        for group in session.optimizer.param_groups:
            group["lr"] = learning_rate(training, epoch)
        stats = train_epoch(
            session.model, session.splits["train"].sentences, session.optimizer, training, epoch,
            session.device, _steps_listener(session, epoch), context, loss_mean_over=task_for(config).loss_mean_over,
            between_steps=session.threads.check,
        )
        record = {"epoch": epoch, "lr": session.optimizer.param_groups[0]["lr"], **stats}
        record["train_tokens_per_s"] = stats["train_tokens"] / stats["train_seconds"]
        if has_dev:
            # Every rank scores the whole dev set (identical weights); rank 0's score decides.
            report = task_for(config).score(model, session.splits["validation"], session.vocabs, config, session.device)
            record.update({f"dev_{key}": value for key, value in report.summary().items()})
        score = distributed.from_main(report.score, context, session.device) if has_dev else 0.0
        improved = not has_dev or score > state.best_score
        state.epoch = epoch
        if improved:
            state.best_score = score
            state.best_epoch, state.bad_epochs = epoch, 0
        else:
            state.bad_epochs += 1
        record["best"] = improved
        if context.is_main:
            _save_epoch(session, improved, record)
        session.emit(EpochDone(record, score if has_dev else None))
        if _stopped_early(state, config):
            session.emit(Message(f"early stop: no dev gain for {training.patience} epochs (best epoch {state.best_epoch})"))
            break


def _steps_listener(session: Session, epoch: int) -> Callable[[int, int, float, float], None] | None:
    """``train_epoch``'s progress callback, sending :class:`StepsDone` events; None when
    ``training.progress`` is off or nobody listens, which spares reading the loss off the device."""
    if not session.config.training.progress or session.emit is ignore:
        return None

    def on_steps(step: int, steps: int, loss: float, tokens_per_s: float) -> None:
        session.emit(StepsDone(epoch, step, steps, loss, tokens_per_s))

    return on_steps


def _threads_listener(emit: Listener) -> Callable[[int, int, float], None]:
    """Tells the user when the thread count follows the other processes' load."""

    def on_change(before: int, after: int, others: float) -> None:
        why = f"other processes keep {others:.1f} cores busy" if after < before else "cores are free again"
        emit(Message(f"threads {before} → {after}: {why}"))

    return on_change


def _save_epoch(session: Session, improved: bool, record: dict) -> None:
    """Write the epoch's files in an order that survives a kill at any point: ``best.pt``, the
    metrics record, then ``last.pt``, which says the epoch is done. A resume starts from
    ``last.pt``'s epoch, drops later metrics records and trains the next epoch again, rewriting
    ``best.pt`` with the same weights (every epoch's randomness comes from :func:`epoch_seed`)."""
    run_dir = session.run_dir
    if not session.written:
        clear_run_folder(run_dir)
        save_config(session.config, run_dir / "config.yaml")
        session.vocabs.save(run_dir / "vocab.json")
        task_for(session.config).keep_files(distributed.unwrap(session.model), run_dir)
        session.written = True
    payload = {
        "config": session.config.to_dict(),
        "vocab": session.vocabs.to_dict(),
        "model": distributed.unwrap(session.model).state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "state": vars(session.state).copy(),
    }
    if improved:
        save_checkpoint(run_dir / "best.pt", {key: payload[key] for key in ("config", "vocab", "model", "state")})
    append_line(run_dir / "metrics.jsonl", json.dumps(record))
    save_checkpoint(run_dir / "last.pt", payload)


def _final_reports(session: Session) -> None:
    """Score the best checkpoint on validation and test; ``report.*`` is the test one."""
    model, run_dir = distributed.unwrap(session.model), session.run_dir
    task = task_for(session.config)
    best = read_checkpoint(run_dir / "best.pt")
    model.load_state_dict(best["model"])
    finished = task.finish(model, session.splits, session.vocabs, session.config, session.device)
    if finished is not None:
        save_checkpoint(run_dir / "best.pt", best | {"model": model.state_dict(), **finished.checkpoint})
        session.emit(Message(finished.note))
    for name in ("validation", "test"):
        if name not in session.splits:
            continue
        report = task.score(model, session.splits[name], session.vocabs, session.config, session.device, full=True)
        report.save(run_dir / f"report-{name}")
        session.emit(ReportDone(name, run_dir / "best.pt", report))
    headline = "test" if "test" in session.splits else "validation" if "validation" in session.splits else None
    if headline:
        for suffix in (".txt", ".json"):
            shutil.copyfile(run_dir / f"report-{headline}{suffix}", run_dir / f"report{suffix}")
    try:
        plot_curves([run_dir], run_dir / "curves.png")
    except Exception as error:  # noqa: BLE001 — a picture (matplotlib is an optional extra) never fails a finished run
        session.emit(Message(f"no curves.png: {first_line(error)}", "warning" if not isinstance(error, BirnnTagError) else "info"))
