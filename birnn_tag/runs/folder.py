"""The run folder a training writes: checks before it starts, an exclusive lock while it runs, and
the rules for replacing an old run.

A folder is recognised as a birnn-tag run when it holds no subfolders but the one a run with
transformer features keeps (:data:`TRANSFORMER_FOLDER`) and either the lock file ``.birnn-tag.lock`` (every run since the lock was introduced) or both
``config.yaml`` and ``vocab.json`` (the first files every run writes). ``--overwrite`` replaces
only such a folder, and only one that holds none of the files the new run reads; the old run is
cleared when the new one writes its first checkpoint, so a run stopped before that point leaves
the old one as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from birnn_tag.errors import BirnnTagError
from birnn_tag.files import TEMPORARY_SUFFIX

try:
    import fcntl
except ImportError:  # Windows: runs are not locked there
    fcntl = None

# ``--resume``: True continues the run in the folder, "auto" continues it when it has a
# ``last.pt`` and starts it otherwise (a restarted torchrun worker runs one command line).
Resume = bool | Literal["auto"]

LOCK_NAME = ".birnn-tag.lock"
RUN_MARKERS = ("config.yaml", "vocab.json")
# The transformer's config, tokenizer and fingerprint (birnn_tag/contextual/sources.py): the only
# subfolder a run writes.
TRANSFORMER_FOLDER = "transformer"


def _contents(path: Path) -> list[Path]:
    """The folder's entries, the lock file aside."""
    return [entry for entry in path.iterdir() if entry.name != LOCK_NAME]


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` looks like a birnn-tag run (see the module docstring)."""
    entries = _contents(path)
    names = {entry.name for entry in entries}
    marked = (path / LOCK_NAME).is_file() or all(marker in names for marker in RUN_MARKERS)
    return marked and not any(entry.is_dir() and entry.name != TRANSFORMER_FOLDER for entry in entries)


# What a run killed before its first complete checkpoint can have written: ``best.pt`` and the
# first epoch's metrics are written before ``last.pt``.
_STARTED_ONLY = {*RUN_MARKERS, TRANSFORMER_FOLDER, "best.pt", "metrics.jsonl"}


def resolve_resume(path: Path, resume: Resume) -> tuple[bool, bool]:
    """``(resume, replace)`` for a run into ``path``: ``auto`` resumes when the folder holds a
    ``last.pt``; otherwise it starts, replacing (``replace``) what a run killed before its first
    checkpoint left in a run folder, and never anything else: a run folder with more (a finished
    run whose ``last.pt`` was removed) is refused."""
    if resume not in (True, False, "auto"):
        raise BirnnTagError(f"resume: expected True, False or 'auto', got {resume!r}")
    if resume != "auto":
        return bool(resume), False
    if (path / "last.pt").is_file():
        return True, False
    if not path.is_dir() or not _contents(path) or not is_run_folder(path):
        return False, False
    metrics = path / "metrics.jsonl"
    epochs = len(metrics.read_text(encoding="utf-8", errors="replace").splitlines()) if metrics.is_file() else 0
    if {entry.name for entry in _contents(path) if not entry.name.endswith(TEMPORARY_SUFFIX)} <= _STARTED_ONLY and epochs <= 1:
        return False, True
    raise BirnnTagError(
        f"{path}: --resume auto: holds a run with no last.pt to resume (finished, or its last.pt removed); "
        "--overwrite replaces it, or choose another output.dir"
    )


def check_run_dir(path: Path, *, overwrite: bool, resume: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse to start a run that would clobber something: an existing folder without
    ``--overwrite`` or ``--resume``, a folder that is not a run, or one holding one of ``inputs``
    (the config's data and vectors files)."""
    if path.exists() and not path.is_dir():
        raise BirnnTagError(f"{path}: output.dir names a file, not a folder")
    if resume:
        if not (path / "last.pt").is_file():
            raise BirnnTagError(f"{path}: nothing to resume (no last.pt)")
        return
    if not path.exists() or not _contents(path):
        return
    if not overwrite:
        raise BirnnTagError(
            f"{path}: run folder exists; use --resume to continue it, --overwrite to replace it, "
            "or --set output.dir=NEW_DIR"
        )
    if not is_run_folder(path):
        raise BirnnTagError(
            f"{path}: --overwrite replaces only a birnn-tag run folder ({LOCK_NAME} or config.yaml and "
            "vocab.json, no subfolders); this is not one: choose another output.dir or remove it yourself"
        )
    folder = path.resolve()
    for name in inputs:
        read = Path(name).resolve()
        if read == folder or folder in read.parents:
            raise BirnnTagError(f"{path}: --overwrite would delete {name}, which this run reads")


class RunLock:
    """An exclusive lock on a run folder for the life of a training (``fcntl.flock`` on
    ``<run>/.birnn-tag.lock``, which holds the owner's pid). The kernel drops the lock when its process
    ends, however it ends, so a killed run never leaves a stale lock behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.handle = (path / LOCK_NAME).open("a+", encoding="utf-8")
        except OSError as error:
            raise BirnnTagError(f"{path}: cannot create the run folder: {error.strerror}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.handle.seek(0)
                holder = self.handle.read().strip() or "unknown"
                self.handle.close()
                raise BirnnTagError(
                    f"{path}: another training is writing this run folder (pid {holder}); "
                    "wait for it to finish or choose another output.dir"
                ) from None
        self.handle.truncate(0)
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()
        remove_temporary_files(path)

    def release(self) -> None:
        """Unlock; a folder this lock created and nothing else wrote to is removed again."""
        self.handle.close()
        if self.created and not _contents(self.path):
            (self.path / LOCK_NAME).unlink(missing_ok=True)
            try:
                self.path.rmdir()
            except OSError:
                pass


def remove_temporary_files(path: Path) -> None:
    """Delete temporary files a killed run left (``last.pt.tmp`` and the like); only called with
    the folder's lock held, so no running writer owns them."""
    for entry in path.glob(f"*{TEMPORARY_SUFFIX}"):
        if entry.is_file():
            entry.unlink()


def clear_run_folder(path: Path) -> None:
    """Delete the files of the old run in ``path`` (never the lock): done by a new run with
    ``--overwrite`` just before it writes its own first files."""
    for entry in _contents(path):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def report_scores(run: Path) -> dict[str, dict[str, float | str]]:
    """The headline score of each report a run folder holds (``report-validation.json``,
    ``report-test.json``): ``{split: {"headline": name, "score": value}}``. Missing or damaged
    reports are left out; cloze reports give their top-1 accuracy, tagging reports written before
    ``score`` was saved their entity F1."""
    scores: dict[str, dict[str, float | str]] = {}
    for split in ("validation", "test"):
        try:
            saved = json.loads((run / f"report-{split}.json").read_text(encoding="utf-8"))
            if "top1" in saved:  # a cloze report (ClozeReport.to_dict)
                scores[split] = {"headline": "top-1 accuracy", "score": float(saved["top1"])}
                continue
            score = saved["score"] if "score" in saved else saved["scores"]["micro avg"]["f1-score"]
            scores[split] = {"headline": saved.get("headline", "strict micro F1"), "score": float(score)}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return scores


def run_folder_of(path: Path) -> Path:
    """The run folder of a checkpoint file (the folder it is in), or ``path`` itself."""
    return path.parent if path.is_file() else path
