"""What differs between tasks — loading splits, building the model, scoring a split — in one place.

The training loop, checkpoints and the CLI look the task up here and stay task-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from birnn_tag.cloze_evaluation import ClozeReport, score_cloze
from birnn_tag.config import Config
from birnn_tag.data.pipeline import Split, load_tagging_splits
from birnn_tag.data.text import load_cloze_splits
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.evaluation import Report, score_model
from birnn_tag.model.cloze import build_cloze_model
from birnn_tag.model.tagger import build_tagger


@dataclass(frozen=True)
class Task:
    """A task's three varying steps. ``score`` returns a report whose ``score`` is higher-is-better."""

    load_splits: Callable[[Config, Vocabularies | None], tuple[Vocabularies, dict[str, Split]]]
    build_model: Callable[[Config, Vocabularies], nn.Module]
    score: Callable[[nn.Module, Split, Vocabularies, Config, torch.device], Report | ClozeReport]


def _build_tagger(config: Config, vocabs: Vocabularies) -> nn.Module:
    return build_tagger(config.model, len(vocabs.words), len(vocabs.chars), len(vocabs.labels))


def _score_tagger(model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device) -> Report:
    return score_model(model, split.sentences, split.tags, vocabs, config, device)


def _build_cloze(config: Config, vocabs: Vocabularies) -> nn.Module:
    return build_cloze_model(config.model, len(vocabs.words))


TASKS = {
    "tagging": Task(load_tagging_splits, _build_tagger, _score_tagger),
    "cloze": Task(load_cloze_splits, _build_cloze, score_cloze),
}


def task_for(config: Config) -> Task:
    """The task named by ``config.task``."""
    return TASKS[config.task]
