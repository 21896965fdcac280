"""What differs between tasks — loading splits, building and initialising the model, scoring a
split — in one place.

The training loop, checkpoints and the CLI look the task up here and stay task-agnostic.

Only model building is imported up front. Reading data (``datasets``), scoring (``seqeval``, which
imports scikit-learn and SciPy) and pretrained vectors are imported by the steps that use them:
``birnn-tag predict`` only builds a model, and those imports were 1.5 s of its 3 s start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from birnn_tag.config import Config
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import ConfigError
from birnn_tag.model.cloze import build_cloze_model
from birnn_tag.model.tagger import build_tagger

if TYPE_CHECKING:
    from birnn_tag.cloze_evaluation import ClozeReport
    from birnn_tag.data.pipeline import Split
    from birnn_tag.evaluation import Report


@dataclass(frozen=True)
class Task:
    """A task's varying steps. ``score`` returns a report whose ``score`` is higher-is-better."""

    load_splits: Callable[[Config, Vocabularies | None], tuple[Vocabularies, dict[str, Split]]]
    build_model: Callable[[Config, Vocabularies], nn.Module]
    score: Callable[[nn.Module, Split, Vocabularies, Config, torch.device], Report | ClozeReport]
    # Fresh (not resumed, not loaded) models only: e.g. pretrained vectors. Returns a log line or None.
    initialize: Callable[[nn.Module, Config, Vocabularies], str | None]


def _build_tagger(config: Config, vocabs: Vocabularies) -> nn.Module:
    return build_tagger(config.model, len(vocabs.words), len(vocabs.chars), vocabs.labels.items, config.data.scheme)


def _load_tagging_splits(config: Config, vocabs: Vocabularies | None) -> tuple[Vocabularies, dict[str, Split]]:
    from birnn_tag.data.pipeline import load_tagging_splits

    return load_tagging_splits(config, vocabs)


def _load_cloze_splits(config: Config, vocabs: Vocabularies | None) -> tuple[Vocabularies, dict[str, Split]]:
    from birnn_tag.data.text import load_cloze_splits

    return load_cloze_splits(config, vocabs)


def _initialize_tagger(model: nn.Module, config: Config, vocabs: Vocabularies) -> str | None:
    """Copy pretrained vectors into a fresh tagger's word embedding; returns a summary line."""
    from birnn_tag.data.pretrained import embedding_matrix

    path = config.model.embeddings
    if not path:
        return None
    matrix, found = embedding_matrix(vocabs.words.items, path, seed=config.training.seed)
    if matrix.shape[1] != config.model.word_dim:
        raise ConfigError(f"model.word_dim: is {config.model.word_dim} but {path} has {matrix.shape[1]}-d vectors")
    with torch.no_grad():
        model.embedder.words.weight.copy_(matrix)
    return f"{path}: pretrained vectors for {found:,} of {len(vocabs.words) - 2:,} words"


def _no_initialization(model: nn.Module, config: Config, vocabs: Vocabularies) -> None:
    return None


def _score_tagger(model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device) -> Report:
    from birnn_tag.evaluation import score_model

    return score_model(model, split, vocabs, config, device)


def _score_cloze(model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device) -> ClozeReport:
    from birnn_tag.cloze_evaluation import score_cloze

    return score_cloze(model, split, vocabs, config, device)


def _build_cloze(config: Config, vocabs: Vocabularies) -> nn.Module:
    return build_cloze_model(config.model, len(vocabs.words))


TASKS = {
    "tagging": Task(_load_tagging_splits, _build_tagger, _score_tagger, _initialize_tagger),
    "cloze": Task(_load_cloze_splits, _build_cloze, _score_cloze, _no_initialization),
}


def task_for(config: Config) -> Task:
    """The task named by ``config.task``."""
    return TASKS[config.task]
