"""Switching a module's train/eval mode for a block and back, whichever task's model it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in eval mode for the block, then back in its mode before, even if the block fails
    (a model scored on the dev set mid-training must go on training with dropout)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
