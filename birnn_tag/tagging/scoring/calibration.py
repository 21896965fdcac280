"""Calibrated confidences: temperature scaling (Guo et al. 2017) fitted on the validation split
(:mod:`~birnn_tag.tagging.scoring.calibration_error` measures the result).

One temperature divides all of a head's scores (softmax logits; CRF emissions and transitions)
before probabilities are taken. It is fitted by minimising the negative log-likelihood of the
validation split's gold tags (a golden-section search over its logarithm), so tags never change,
only how sure the model says it is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from birnn_tag.runs.checkpoint import LoadedModel, read_checkpoint, save_checkpoint
from birnn_tag.data.batching import iterate_batches
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError
from birnn_tag.nn.modes import evaluating
from birnn_tag.tagging.scoring.evaluation import load_scored_split
from birnn_tag.tagging.network.tagger import Tagger

# Log-temperatures searched. A validation split the model gets entirely right drives the NLL's
# minimum towards 0 (every confidence 1.0): the search stops at 0.5, at most twice as sharp.
SEARCH = (math.log(0.5), math.log(10.0))


@dataclass(frozen=True)
class TemperatureFit:
    """A fitted temperature and the NLL per token of the gold tags at 1 and at it, over the
    ``pieces`` it was fitted on."""

    temperature: float
    nll_before: float
    nll_after: float
    pieces: int

    def to_dict(self) -> dict[str, float]:
        """The form a checkpoint records under ``calibration``."""
        return asdict(self)


@torch.no_grad()
def fit_temperature(model: Tagger, split: Split, vocabs: Vocabularies, device: torch.device, batch_size: int = 256) -> TemperatureFit | None:
    """The temperature that minimises the NLL of ``split``'s gold tags (pieces whose labels the
    model knows), with the NLL per token at 1 and at it; None when no piece can be used."""
    split = model.with_context(split)
    labelled = [
        replace(piece, tags=torch.tensor([vocabs.labels.index[tag] for tag in tags]))  # a window, if any, is kept
        for piece, tags in zip(split.sentences, split.piece_tags or [])
        if tags and all(tag in vocabs.labels for tag in tags)
    ]
    if not labelled:
        return None
    batches = []
    with evaluating(model):
        for batch in iterate_batches(labelled, batch_size):
            batch = batch.to(device)
            batches.append((model.head(model.features(batch).float()), batch.tag_ids, batch.mask))
    tokens = sum(int(mask.sum()) for _, _, mask in batches)

    def nll(log_temperature: float) -> float:
        temperature = math.exp(log_temperature)
        return sum(float(model.head.sequence_nll(e, y, m, temperature).sum()) for e, y, m in batches) / tokens

    best = _golden_section(nll, *SEARCH)
    return TemperatureFit(math.exp(best), nll(0.0), nll(best), len(labelled))


def _golden_section(function, low: float, high: float, steps: int = 40) -> float:
    """The minimum of a unimodal ``function`` on [low, high] (the NLL is convex in 1/T)."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = function(a), function(b)
    for _ in range(steps):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = function(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = function(b)
    return (low + high) / 2


def calibrate_checkpoint(loaded: LoadedModel, path: Path) -> TemperatureFit:
    """Fit ``loaded``'s temperature on the validation split of its data and write it into the
    checkpoint at ``path`` (atomically, with the fit's numbers under ``calibration``)."""
    split = load_scored_split(loaded, split="validation")
    fitted = fit_temperature(loaded.model, split, loaded.vocabs, torch.device("cpu"), loaded.config.training.eval_batch_size)
    if fitted is None:
        raise BirnnTagError(f"{path}: no validation sentence has labels the model knows; nothing to calibrate on")
    loaded.model.head.temperature.fill_(fitted.temperature)
    payload = read_checkpoint(path)
    save_checkpoint(path, payload | {"model": loaded.model.state_dict(), "calibration": fitted.to_dict()})
    return fitted
