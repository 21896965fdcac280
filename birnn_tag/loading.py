"""Rebuild a trained model from its checkpoint: the saved config says which task builds it."""

from __future__ import annotations

from pathlib import Path

import torch

from birnn_tag.checkpoint import LoadedModel, read_checkpoint
from birnn_tag.config import config_from_dict
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import CheckpointError, first_line
from birnn_tag.tasks import task_for


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """The model of a checkpoint (a ``.pt`` file, or a run folder's ``best.pt``) in eval mode on
    ``device``, with its config and vocabularies."""
    payload = read_checkpoint(path)
    config = config_from_dict(payload["config"], f"{path} (saved config)", saved=True)
    vocabs = Vocabularies.from_dict(payload["vocab"])
    checkpoint = Path(path)
    model = task_for(config).build_model(config, vocabs, checkpoint if checkpoint.is_dir() else checkpoint.parent)
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, TypeError) as error:
        raise CheckpointError(f"{path}: weights do not match the saved config: {first_line(error)}") from None
    model.to(device).eval()
    return LoadedModel(config, vocabs, model, Path(path))
