"""What to label next: rank unlabelled sentences (or documents) by how unsure a trained tagger is
of them, and keep the most useful ``n``.

Strategies (CRF runs: sequence probabilities from the k-best lists, calibrated by the run's
temperature; softmax runs: the product of the tokens' confidences stands for the best sequence's
probability and only ``least-confidence`` and ``random`` apply):

- ``least-confidence``: 1 − P(best sequence); normalised, −log P(best) per token (Shen et al.
  2017's MNLP, which keeps long sentences from winning by length alone);
- ``margin``: 1 − (P(best) − P(second)); normalised, −(log P(best) − log P(second)) per token;
- ``entropy``: the entropy of the 10 best sequences' probabilities, renormalised (Settles & Craven
  2008's N-best sequence entropy); normalised, per token;
- ``random``: a seeded shuffle, the baseline to beat.

``diversity`` (0 = off) skips a candidate whose word set overlaps one already chosen by at least
that Jaccard similarity, so that near-duplicates (the same headline twice) do not use the budget.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.prediction.streaming import Prediction

STRATEGIES = ("least-confidence", "margin", "entropy", "random")
_K = {"least-confidence": 1, "margin": 2, "entropy": 10}
# Candidates kept for the diversity step, per place to fill.
_POOL = 5


@dataclass(frozen=True)
class Selected:
    """A chosen input: its ``index`` in the input (0-based), ``score`` (higher: less sure) and
    the model's ``prediction`` (for pre-annotation)."""

    index: int
    score: float
    prediction: Prediction

    def to_record(self) -> dict[str, Any]:
        """The choice as ``select --format jsonl`` writes it: input index, score, the prediction."""
        return {"index": self.index, "score": round(self.score, 6), **self.prediction.to_record()}


def select(
    predictions: Iterable[Prediction], n: int, strategy: str, *, normalize: bool = False, diversity: float = 0.0, seed: int = 0
) -> list[Selected]:
    """The ``n`` inputs to label next among ``predictions`` (made with :func:`k_best_for`
    ``(strategy)`` sequences), most useful first."""
    if strategy not in STRATEGIES:
        raise BirnnTagError(f"strategy: unknown {strategy!r} (expected one of {', '.join(STRATEGIES)})")
    if n < 1:
        raise BirnnTagError(f"n: expected at least 1, got {n}")
    if not 0.0 <= diversity <= 1.0:
        raise BirnnTagError(f"diversity: expected a Jaccard similarity from 0 to 1, got {diversity}")
    draw = random.Random(seed)
    scored = (
        (draw.random() if strategy == "random" else uncertainty(prediction, strategy, normalize), index, prediction)
        for index, prediction in enumerate(predictions)
        if prediction.tokens
    )
    pool = heapq.nlargest(n * _POOL if diversity else n, scored, key=lambda item: (item[0], -item[1]))
    return list(_diverse(pool, n, diversity))


def k_best_for(strategy: str) -> int:
    """How many best sequences each prediction needs for ``strategy`` (0: none)."""
    return _K.get(strategy, 0)


def uncertainty(prediction: Prediction, strategy: str, normalize: bool) -> float:
    """How unsure the model is of ``prediction`` under ``strategy`` (higher: less sure)."""
    length = len(prediction.tokens)
    if prediction.k_best:
        probabilities = [max(p, 1e-300) for _, p in prediction.k_best]
    elif strategy == "least-confidence" and prediction.confidences is not None:
        probabilities = [math.prod(prediction.confidences) or 1e-300]
    else:
        raise BirnnTagError(f"strategy {strategy}: needs the k best sequences of a CRF run (this run has a softmax head)")
    best = probabilities[0]
    if strategy == "least-confidence":
        return -math.log(best) / length if normalize else 1.0 - best
    if strategy == "margin":
        second = probabilities[1] if len(probabilities) > 1 else 1e-300
        return -(math.log(best) - math.log(second)) / length if normalize else 1.0 - (best - second)
    total = sum(probabilities)
    entropy = -sum(p / total * math.log(p / total) for p in probabilities)
    return entropy / length if normalize else entropy


def _diverse(pool: list[tuple[float, int, Prediction]], n: int, diversity: float) -> Iterator[Selected]:
    chosen: list[set[str]] = []
    for score, index, prediction in pool:
        if len(chosen) == n:
            return
        words = {token.lower() for token in prediction.tokens}
        if diversity and any(len(words & other) / len(words | other) >= diversity for other in chosen):
            continue
        chosen.append(words)
        yield Selected(index, score, prediction)
