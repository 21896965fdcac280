"""Checkpoints are data: config + vocabularies + state dicts + metadata, saved atomically."""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from birnn_tag import __version__
from birnn_tag.config import Config, config_from_dict
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import CheckpointError

FORMAT = "birnn-tag"
FORMAT_VERSION = 1


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format markers) to ``path`` via a temp file and an atomic rename."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "birnn_tag_version": __version__, **payload}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check that birnn-tag wrote it."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a birnn-tag checkpoint (written by another tool?)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload.get('format_version')} is not supported "
            f"(this birnn-tag reads format {FORMAT_VERSION})"
        )
    return payload


@dataclass
class LoadedModel:
    """A trained model together with what is needed to feed it and read its output."""

    config: Config
    vocabs: Vocabularies
    model: torch.nn.Module
    path: Path


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild the model from a checkpoint (a ``.pt`` file or a run folder's ``best.pt``)."""
    from birnn_tag.tasks import task_for  # tasks import the evaluation code, which uses LoadedModel

    payload = read_checkpoint(path)
    config = config_from_dict(payload["config"], f"{path} (saved config)")
    vocabs = Vocabularies.from_dict(payload["vocab"])
    model = task_for(config).build_model(config, vocabs)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not match the saved config: {str(error).splitlines()[0]}") from None
    model.to(device).eval()
    return LoadedModel(config, vocabs, model, Path(path))
