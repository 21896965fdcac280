"""Rebuild a trained model from its checkpoint: the saved config says which task builds it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from birnn_tag.runs.checkpoint import LoadedModel, load_checkpoint
from birnn_tag.config import Config
from birnn_tag.runs.folder import run_folder_of
from birnn_tag.tasks import task_for


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """The model of a checkpoint (a ``.pt`` file, a run folder's ``best.pt``, a shared model's
    ``model.safetensors``, or an ``hf://`` name of one, see :mod:`birnn_tag.hub.names`) in eval
    mode on ``device``, with its config and vocabularies; files the run keeps beside it (a
    transformer's tokenizer) are read from the checkpoint's folder. The config's relative data
    paths are made to point where ``train`` read them (:func:`rebase_data_paths`)."""
    loaded = load_checkpoint(path, lambda config, vocabs, folder: task_for(config).build_model(config, vocabs, folder), device)
    return dataclasses.replace(loaded, config=rebase_data_paths(loaded.config, run_folder_of(loaded.path)))


def rebase_data_paths(config: Config, run_folder: Path) -> Config:
    """``config`` with each relative data path that does not exist from here rewritten to the
    folder ``train`` ran in, so ``evaluate``, ``compare`` and ``export --check`` find a run's data
    from any directory.

    That folder is the run folder less its relative ``output.dir`` (``/home/me/ner`` for
    ``/home/me/ner/runs/a`` trained with ``output.dir: runs/a``). When it cannot be told (an
    absolute or ``..`` output dir, a moved run folder) paths stay as saved, and a missing file's
    error shows the absolute path it was looked for at.
    """
    trained_in = _training_folder(run_folder, config.output.dir)
    if trained_in is None:
        return config

    def rebase(path: str | None) -> str | None:
        if path is None or Path(path).is_absolute() or Path(path).exists():
            return path
        return str(trained_in / path)

    data = config.data
    train = [rebase(path) for path in data.train] if isinstance(data.train, list) else rebase(data.train)
    rebased = dataclasses.replace(
        data, train=train, validation=rebase(data.validation), test=rebase(data.test), disk=rebase(data.disk)
    )
    return dataclasses.replace(config, data=rebased)


def _training_folder(run_folder: Path, output_dir: str) -> Path | None:
    """The folder ``train`` ran in, when ``run_folder`` ends with the relative ``output_dir``."""
    parts = Path(output_dir).parts
    if not parts or Path(output_dir).is_absolute() or ".." in parts:
        return None
    resolved = run_folder.resolve()
    if resolved.parts[-len(parts) :] != parts:
        return None
    return Path(*resolved.parts[: -len(parts)])
