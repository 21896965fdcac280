"""A checkpoint without pickle: the weights (the payload's ``model`` state dict) in
``<stem>.safetensors``, everything else (format markers, config, vocabularies, training state,
calibration) as JSON in ``<stem>.json`` beside it.

This is how a model shared on the Hugging Face Hub (``birnn-tag push``) carries ``best.pt``:
``model.safetensors`` + ``model.json``. Neither file can hold code, and the tensors come back
bit for bit. :func:`~birnn_tag.runs.checkpoint.read_checkpoint` reads this form and checks it
as it checks a ``.pt`` file; the safetensors library is the ``[hub]`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from birnn_tag.errors import CheckpointError, first_line

#: The weights file of a shared model's folder, which a run folder's ``best.pt`` becomes.
WEIGHTS_FILE = "model.safetensors"
EXTRA = "pip install 'birnn-tag[hub]'"


def companion(path: Path) -> Path:
    """The JSON file that goes with the weights file ``path`` (``model.safetensors`` → ``model.json``)."""
    return path.with_suffix(".json")


def save_safetensors_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` (as :func:`~birnn_tag.runs.checkpoint.read_checkpoint` returns it) as
    ``path`` (the tensors of ``payload["model"]``) and its :func:`companion` (the rest)."""
    save_file, _ = _library()
    # The optimizer's state only resumes a training (``last.pt``), which a shared model is not for.
    rest = {key: value for key, value in payload.items() if key not in ("model", "optimizer")}
    for key, value in rest.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: key {key!r} holds values JSON cannot store: {first_line(error)}") from None
    save_file(_unshared(payload["model"]), str(path), metadata={"format": "pt"})
    companion(path).write_text(json.dumps(rest, indent=1) + "\n", encoding="utf-8")


def read_safetensors_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a weights file written by :func:`save_safetensors_checkpoint`, its
    tensors on the CPU; its format and keys are left to the caller to check."""
    _, load_file = _library()
    from safetensors import SafetensorError

    described = companion(path)
    try:
        payload = json.loads(described.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{described}: missing or not JSON (it goes with {path.name}): {first_line(error)}") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{described}: not a birnn-tag checkpoint (expected a JSON object)")
    try:
        weights = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file (corrupt or truncated?): {first_line(error)}") from None
    return payload | {"model": weights}


def _unshared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state``'s tensors, contiguous, with a copy of each that shares memory with an earlier
    one (tied weights): safetensors stores each storage once and refuses shared ones.
    ``load_state_dict`` copies both back into the one tied parameter."""
    seen: set[int] = set()
    unshared = {}
    for name, tensor in state.items():
        tensor = tensor.detach().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        unshared[name] = tensor.clone() if pointer in seen else tensor
        if pointer:
            seen.add(pointer)
    return unshared


def _library() -> tuple[Any, Any]:
    """safetensors' ``save_file`` and ``load_file`` for PyTorch tensors (the ``[hub]`` extra)."""
    try:
        from safetensors.torch import load_file, save_file
    except ImportError:
        raise CheckpointError(f"{WEIGHTS_FILE} files need the safetensors package: {EXTRA}") from None
    return save_file, load_file
