"""Checkpoints are data: config + vocabularies + state dicts + metadata, saved atomically.

This module writes and reads payloads; :mod:`birnn_tag.runs.loading` rebuilds models from them.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from birnn_tag.version import __version__
from birnn_tag.config import Config, config_from_dict, upgrade_format_1
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import CheckpointError, first_line, short_repr
from birnn_tag.files import write_atomic
from birnn_tag.hub.names import resolve
from birnn_tag.runs.safetensors_checkpoint import WEIGHTS_FILE, read_safetensors_checkpoint

FORMAT = "birnn-tag"
# 2: data.tokenizer applies to a tagger's text too (format 1 configs are upgraded on reading).
FORMAT_VERSION = 2


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus format markers) to ``path`` atomically (see :func:`write_atomic`).

    The payload is serialised in memory first: ``torch.save`` straight to a full disk fails with
    zip-writer errors that name no cause, while a plain file write says "No space left on device".
    """
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "birnn_tag_version": __version__, **payload}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getbuffer())


def checkpoint_in(folder: Path) -> Path:
    """The checkpoint of a run folder: its ``best.pt``, or the ``model.safetensors`` of a shared
    model's folder (``birnn-tag push``) that has no ``best.pt``."""
    best = folder / "best.pt"
    return folder / WEIGHTS_FILE if not best.is_file() and (folder / WEIGHTS_FILE).is_file() else best


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint (``weights_only=True``, or a ``.safetensors`` file with its JSON, see
    :mod:`~birnn_tag.runs.safetensors_checkpoint`) and check that birnn-tag wrote it."""
    path = Path(path)
    if path.is_dir():
        path = checkpoint_in(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    payload = read_safetensors_checkpoint(path) if path.suffix == ".safetensors" else _unpickle(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a birnn-tag checkpoint (written by another tool?)")
    if payload.get("format_version") not in (1, FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: checkpoint format {short_repr(payload.get('format_version'))} is not supported "
            f"(this birnn-tag reads formats 1 to {FORMAT_VERSION})"
        )
    _check_payload(payload, path)
    if payload["format_version"] == 1:
        payload["config"] = upgrade_format_1(payload["config"])
    return payload


def _unpickle(path: Path) -> Any:
    """A ``.pt`` file's contents, read with ``weights_only=True``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only load failed" in str(error).lower():
            # Never pass on torch's advice to retry with weights_only=False: that runs the file's code.
            raise CheckpointError(
                f"{path}: refused: the file holds Python objects other than tensors and plain data "
                "(not written by birnn-tag, or tampered with)"
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): {first_line(error)}") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): {first_line(error)}") from None


def _check_payload(payload: dict[str, Any], path: Path) -> None:
    """Check the shape of the keys every checkpoint has, so that a damaged file fails here with
    its name and the key rather than somewhere inside model building."""
    if not isinstance(payload.get("config"), dict):
        raise CheckpointError(f"{path}: key 'config' is missing or not a mapping")
    vocab = payload.get("vocab")
    if not isinstance(vocab, dict):
        raise CheckpointError(f"{path}: key 'vocab' is missing or not a mapping")
    for name in ("words", "chars", "labels"):
        items = vocab.get(name)
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise CheckpointError(f"{path}: key 'vocab.{name}' is missing or not a list of strings")
    trained = vocab.get("trained_words")  # absent in runs saved before it was recorded
    if trained is not None and not (isinstance(trained, int) and 2 <= trained <= len(vocab["words"])):
        raise CheckpointError(f"{path}: key 'vocab.trained_words' is not a count of the words")
    weights = payload.get("model")
    if not isinstance(weights, dict) or not all(isinstance(value, torch.Tensor) for value in weights.values()):
        raise CheckpointError(f"{path}: key 'model' is missing or not a mapping of tensors")
    if "state" in payload and not isinstance(payload["state"], dict):
        raise CheckpointError(f"{path}: key 'state' is not a mapping")


@dataclass
class LoadedModel:
    """A trained model together with what is needed to feed it and read its output
    (built by :func:`birnn_tag.runs.loading.load_model`)."""

    config: Config
    vocabs: Vocabularies
    model: torch.nn.Module
    path: Path


def load_checkpoint(
    path: str | Path, build: Callable[[Config, Vocabularies, Path], torch.nn.Module], device: torch.device | str = "cpu"
) -> LoadedModel:
    """The model of a checkpoint (a ``.pt`` file, a run folder's ``best.pt``, a shared model's
    ``model.safetensors``, or an ``hf://`` name of one) built by ``build(config, vocabs,
    folder)``, where ``folder`` holds the files the run keeps beside the checkpoint, in eval mode
    on ``device``."""
    path = resolve(path)
    checkpoint = Path(path)
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    loaded = restore_model(read_checkpoint(path), path, lambda config, vocabs: build(config, vocabs, folder))
    loaded.model.to(device)
    return loaded


def restore_model(payload: dict[str, Any], path: str | Path, build: Callable[[Config, Vocabularies], torch.nn.Module]) -> LoadedModel:
    """The model of a :func:`read_checkpoint` payload, built by ``build`` from the saved config and
    vocabularies, with the saved weights, in eval mode on the CPU."""
    config = config_from_dict(payload["config"], f"{path} (saved config)", saved=True)
    vocabs = Vocabularies.from_dict(payload["vocab"])
    model = build(config, vocabs)
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, TypeError) as error:
        raise CheckpointError(f"{path}: weights do not match the saved config: {first_line(error)}") from None
    return LoadedModel(config, vocabs, model.eval(), Path(path))
