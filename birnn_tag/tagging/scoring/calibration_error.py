"""The expected calibration error (ECE): does a confidence of 0.9 mean right 90 % of the time?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from birnn_tag.tagging.data import schemes

BINS = 10


@dataclass(frozen=True)
class Calibration:
    """How well a full report's confidences are calibrated: the head's ``temperature`` and the
    expected calibration errors (by level: ``token``, and ``span`` for span schemes, in [0, 1])
    of the confidences at temperature 1 (``ece_before``) and at it (``ece_after``), over ``bins``
    equal-width bins."""

    temperature: float
    ece_before: dict[str, float]
    ece_after: dict[str, float]
    bins: int = BINS

    def line(self) -> str:
        """One line for a report: the temperature, then each level's ECE before → after it (in %)."""
        parts = [f"{level} ECE {100 * self.ece_before[level]:.2f} → {100 * self.ece_after[level]:.2f}" for level in self.ece_before]
        return f"calibration: temperature {self.temperature:.3f}; {', '.join(parts)} (%, {self.bins} bins)"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as a report's ``calibration``."""
        return asdict(self)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> float:
    """ECE over ``bins`` equal-width confidence bins: the mean over items of |accuracy − mean
    confidence| of their bin."""
    if not confidences:
        return 0.0
    sums = [[0, 0.0, 0] for _ in range(bins)]  # items, confidence, correct
    for confidence, hit in zip(confidences, correct):
        row = sums[min(bins - 1, int(confidence * bins))]
        row[0] += 1
        row[1] += confidence
        row[2] += hit
    return sum(abs(hits - total) for count, total, hits in sums if count) / len(confidences)


def calibration_errors(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], confidences: Sequence[Sequence[float]], scheme: str
) -> dict[str, float]:
    """Token-level ECE (a token's confidence against its tag being right) and, for span schemes,
    span-level ECE (a predicted span's confidence, the product of its tokens', against it being a
    gold span)."""
    token_confidences = [c for row in confidences for c in row]
    token_hits = [g == p for gold_row, pred_row in zip(gold, predicted) for g, p in zip(gold_row, pred_row)]
    errors = {"token": expected_calibration_error(token_confidences, token_hits)}
    if scheme != schemes.NO_SPANS:
        span_confidences, span_hits = [], []
        for gold_row, pred_row, row in zip(gold, predicted, confidences):
            truth = set(schemes.to_spans(gold_row, scheme))
            for span in schemes.to_spans(pred_row, scheme):
                span_confidences.append(math.prod(row[span[1] : span[2]]))
                span_hits.append(span in truth)
        errors["span"] = expected_calibration_error(span_confidences, span_hits)
    return errors
