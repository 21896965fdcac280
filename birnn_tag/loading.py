"""Rebuild a trained model from its checkpoint: the saved config says which task builds it."""

from __future__ import annotations

from pathlib import Path

import torch

from birnn_tag.checkpoint import LoadedModel, read_checkpoint, restore_model
from birnn_tag.tasks import task_for


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """The model of a checkpoint (a ``.pt`` file, or a run folder's ``best.pt``) in eval mode on
    ``device``, with its config and vocabularies; files the run keeps beside it (a transformer's
    tokenizer) are read from the checkpoint's folder."""
    checkpoint = Path(path)
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    loaded = restore_model(
        read_checkpoint(path), path, lambda config, vocabs: task_for(config).build_model(config, vocabs, folder)
    )
    loaded.model.to(device)
    return loaded
