"""The public Python API: load a trained run and tag or fill with it, or train one.

    import birnn_tag
    tagger = birnn_tag.load("runs/ner")
    tagger.tag(["Peter lives in Paris ."])[0].spans   # [Span(type='PER', start=0, end=5, ...), ...]

The CLI is a thin shell over these functions, so the two give the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from birnn_tag.config import Config, load_config
from birnn_tag.devices import resolve_device
from birnn_tag.events import Listener
from birnn_tag.loading import load_model
from birnn_tag.tasks import task_for

if TYPE_CHECKING:  # each task's model is imported by the registry when a run of it is loaded
    from birnn_tag.cloze.cloze_model import ClozeModel
    from birnn_tag.tagging.tagging_model import TaggingModel


def load(path: str | Path, device: str | torch.device = "auto", precision: str | None = None) -> TaggingModel | ClozeModel:
    """The trained model of a run folder (its ``best.pt``) or a checkpoint file: a
    :class:`~birnn_tag.tagging.tagging_model.TaggingModel` or a :class:`~birnn_tag.cloze.cloze_model.ClozeModel`,
    by the run's task.

    ``device``: ``cpu``, ``cuda``, ``auto`` (CUDA when available) or a ``torch.device``; the model
    keeps it. ``precision`` (tagging only): ``fp32``, ``bf16`` or ``auto``; None is the run's
    ``training.eval_precision``. Raises :class:`~birnn_tag.errors.BirnnTagError` for a missing,
    damaged or foreign checkpoint.
    """
    target = device if isinstance(device, torch.device) else resolve_device(str(device))
    loaded = load_model(path, target)
    return task_for(loaded.config).open(loaded, target, precision)


def train(
    config: str | Path | Config,
    overrides: Sequence[str] = (),
    *,
    resume: bool = False,
    on_event: Listener | None = None,
) -> Path:
    """Train as a YAML config file (or a :class:`~birnn_tag.config.Config`) says, with
    ``section.key=value`` ``overrides``; returns the run folder (``output.dir``).

    ``resume`` continues the run from its ``last.pt``. Progress goes to ``on_event`` as the
    records of :mod:`birnn_tag.events`; nothing is printed.
    """
    from birnn_tag.training import train as run_training  # datasets and seqeval: only when training

    if not isinstance(config, Config):
        config = load_config(config, list(overrides))
    elif overrides:
        raise ValueError("overrides apply to a config file; change a Config with dataclasses.replace")
    return run_training(config, resume=resume, on_event=on_event)
