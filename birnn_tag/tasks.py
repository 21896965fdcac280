"""The task registry: what differs between tasks — loading splits, building and initialising the
model, how its loss averages, scoring a split, and the public model that tags or fills (which
evaluates files and predicts lines) — in one place.

The training loop, model loading, the API and the CLI look the task up here and stay task-agnostic.

Only model building is imported up front. Reading data (``datasets``), scoring (``seqeval``, which
imports scikit-learn and SciPy) and pretrained vectors are imported by the steps that use them,
as ``birnn-tag predict`` only builds a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from birnn_tag.cloze.network import build_cloze_model
from birnn_tag.config import Config
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError, ConfigError
from birnn_tag.tagging.network.tagger import build_tagger

if TYPE_CHECKING:
    from birnn_tag.runs.checkpoint import LoadedModel
    from birnn_tag.cloze.public import ClozeModel
    from birnn_tag.cloze.evaluation import ClozeReport
    from birnn_tag.data.split import Split
    from birnn_tag.tagging.scoring.evaluation import Report
    from birnn_tag.tagging.public.pytorch import TaggingModel


@dataclass(frozen=True)
class Task:
    """A task's varying steps. ``score`` returns a report whose ``score`` is higher-is-better."""

    # Returns the config as the data resolved it (tagging: ``data.scheme: auto``), the
    # vocabularies (built from train unless given) and the encoded splits.
    load_splits: Callable[[Config, Vocabularies | None], tuple[Config, Vocabularies, dict[str, Split]]]
    # The folder: a trained run's, whose kept files (a transformer's tokenizer...) the model is
    # rebuilt from; None for a new model.
    build_model: Callable[[Config, Vocabularies, Path | None], nn.Module]
    # Before training on or scoring a split: e.g. attach cached contextual features.
    prepare_split: Callable[[nn.Module, Split], None]
    # Into a new run folder, with its first checkpoint: what rebuilding the model needs besides
    # the checkpoint (see ``build_model``).
    keep_files: Callable[[nn.Module, Path], None]
    # ``full``: the final reports' extras (tagging: calibration errors), not a dev score per epoch.
    score: Callable[[nn.Module, Split, Vocabularies, Config, torch.device, bool], Report | ClozeReport]
    # Fresh (not resumed, not loaded) models only: e.g. pretrained vectors. Returns a log line or None.
    initialize: Callable[[nn.Module, Config, Vocabularies], str | None]
    # After training, on the best model: e.g. fit the tagger's temperature on validation. Returns
    # what to record in best.pt (it is then rewritten with the model's state) or None.
    finish: Callable[[nn.Module, dict[str, Split], Vocabularies, Config, torch.device], dict | None]
    # The public model around a loaded one, on its device, at an inference precision (None: the run's).
    open: Callable[[LoadedModel, torch.device, str | None], TaggingModel | ClozeModel]
    # What the loss is a mean over: several processes weight their shares of a batch by it.
    loss_mean_over: Literal["sentences", "tokens"]
    # Whether some parameters can go without a gradient in a step (DistributedDataParallel must
    # then look for them after every backward pass, which costs time).
    may_skip_parameters: Callable[[nn.Module], bool]


def _build_tagger(config: Config, vocabs: Vocabularies, folder: Path | None = None) -> nn.Module:
    contexts = []
    if config.model.transformer.name or config.model.lm_embeddings:
        from birnn_tag.contextual.sources import context_sources

        contexts = context_sources(config.model, folder, _language_model)
    return build_tagger(config.model, len(vocabs.words), len(vocabs.chars), vocabs.labels.items, config.data.scheme, contexts)


def _language_model(path: Path) -> nn.Module:
    """A cloze run's checkpoint as a tagger's TagLM features (model.lm_embeddings)."""
    from birnn_tag.runs.checkpoint import read_checkpoint, restore_model
    from birnn_tag.contextual.lm_states import LMStates

    try:
        payload = read_checkpoint(path)
    except BirnnTagError as error:
        raise BirnnTagError(f"model.lm_embeddings: {error}") from None
    task = payload["config"].get("task", "tagging")
    if task != "cloze":
        raise BirnnTagError(f"model.lm_embeddings: {path} is a {task} run; expected a cloze run (task: cloze)")
    return LMStates(restore_model(payload, path, _build_cloze))


def _attach_context(model: nn.Module, split: Split) -> None:
    model.attach_context(split)


def _keep_context_files(model: nn.Module, folder: Path) -> None:
    if len(model.contexts):
        from birnn_tag.contextual.sources import keep_source_files

        keep_source_files(list(model.contexts), folder)


def _nothing_to_prepare(model: nn.Module, split: Split) -> None:
    return None


def _nothing_to_keep(model: nn.Module, folder: Path) -> None:
    return None


def _load_tagging_splits(config: Config, vocabs: Vocabularies | None) -> tuple[Config, Vocabularies, dict[str, Split]]:
    from birnn_tag.tagging.data.splits import load_tagging_splits

    return load_tagging_splits(config, vocabs)


def _load_cloze_splits(config: Config, vocabs: Vocabularies | None) -> tuple[Config, Vocabularies, dict[str, Split]]:
    from birnn_tag.cloze.text import load_cloze_splits

    return (config, *load_cloze_splits(config, vocabs))


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


def _score_tagger(model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device, full: bool = False) -> Report:
    from birnn_tag.tagging.scoring.evaluation import score_model

    return score_model(model, split, vocabs, config, device, full=full)


def _calibrate_tagger(model: nn.Module, splits: dict[str, Split], vocabs: Vocabularies, config: Config, device: torch.device) -> dict | None:
    """Fit the tagger's temperature on the validation split (none without one)."""
    from birnn_tag.tagging.scoring.calibration import fit_temperature

    if "validation" not in splits:
        return None
    fitted = fit_temperature(model, splits["validation"], vocabs, device, config.training.eval_batch_size)
    if fitted is not None:
        model.head.temperature.fill_(fitted["temperature"])
    return fitted


def _no_finish(model: nn.Module, splits: dict[str, Split], vocabs: Vocabularies, config: Config, device: torch.device) -> None:
    return None


def _score_cloze(model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device, full: bool = False) -> ClozeReport:
    from birnn_tag.cloze.evaluation import score_cloze

    return score_cloze(model, split, vocabs, config, device)


def _build_cloze(config: Config, vocabs: Vocabularies, folder: Path | None = None) -> nn.Module:
    return build_cloze_model(config.model, len(vocabs.words))


def _open_tagger(loaded: LoadedModel, device: torch.device, precision: str | None) -> TaggingModel:
    from birnn_tag.tagging.public.pytorch import TaggingModel

    return TaggingModel(loaded, device, precision)


def _open_cloze(loaded: LoadedModel, device: torch.device, precision: str | None) -> ClozeModel:
    from birnn_tag.cloze.public import ClozeModel

    return ClozeModel(loaded, device, precision)


def _fine_tunes_a_transformer(model: nn.Module) -> bool:
    """Layers above the highest mixed one (and BERT's pooler) get no gradient."""
    return any(source.fine_tune for source in model.contexts)


def _uses_adaptive_softmax(model: nn.Module) -> bool:
    """An adaptive softmax uses a tail cluster only when a batch has a target in it."""
    return model.output.adaptive is not None


TASKS = {
    "tagging": Task(
        _load_tagging_splits, _build_tagger, _attach_context, _keep_context_files, _score_tagger, _initialize_tagger,
        _calibrate_tagger, _open_tagger, loss_mean_over="sentences", may_skip_parameters=_fine_tunes_a_transformer,
    ),
    "cloze": Task(
        _load_cloze_splits, _build_cloze, _nothing_to_prepare, _nothing_to_keep, _score_cloze, _no_initialization,
        _no_finish, _open_cloze, loss_mean_over="tokens", may_skip_parameters=_uses_adaptive_softmax,
    ),
}


def task_for(config: Config) -> Task:
    """The task named by ``config.task``."""
    return TASKS[config.task]
