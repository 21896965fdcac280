"""Entity (or chunk) scores for span schemes: seqeval strict mode in the training scheme, the
conlleval-compatible micro scores, and token accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, IOBES

from birnn_tag.tagging.reports import save_report, scores_table
from birnn_tag.tagging.schemes import seqeval_scheme

_SEQEVAL_SCHEMES = {"IOB2": IOB2, "IOBES": IOBES}
AVERAGES = ("micro avg", "macro avg", "weighted avg")


@dataclass
class SpanReport:
    """seqeval's strict-mode per-type and averaged scores (the headline), the conlleval-compatible
    micro scores (seqeval's default mode), token accuracy, and the scheme they were computed in.

    The two modes differ only on invalid tag sequences: conlleval reads ``O I-PER`` as an entity,
    strict mode does not. With constrained decoding (the default) predictions are always valid.
    """

    scores: dict[str, dict[str, float]]
    conlleval: dict[str, float]
    token_accuracy: float
    scheme: str
    text: str

    @property
    def f1(self) -> float:
        """Micro-averaged entity F1 (the headline number), in [0, 1]."""
        return self.scores["micro avg"]["f1-score"]

    @property
    def score(self) -> float:
        """The headline, which early stopping maximises: micro F1."""
        return self.f1

    def summary(self) -> dict[str, float]:
        """The numbers logged per epoch in metrics.jsonl."""
        return {"f1": self.f1, "conlleval_f1": self.conlleval["f1-score"], "token_accuracy": self.token_accuracy}

    def table(self, title: str) -> Table:
        """The report as a rich table: one row per entity type, then the averages."""
        caption = (
            f"strict {self.scheme} entity scores (seqeval, the headline); conlleval-compatible "
            f"micro F1 {100 * self.conlleval['f1-score']:.2f}; token accuracy {100 * self.token_accuracy:.2f}%"
        )
        return scores_table(title, "type", self.scores, AVERAGES, caption)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "mode": "strict",
            "headline": "strict micro F1",
            "score": self.f1,
            "token_accuracy": self.token_accuracy,
            "scores": self.scores,
            "conlleval_micro": self.conlleval,
        }

    def save(self, stem: Path) -> None:
        """Write ``<stem>.txt`` (seqeval's text report) and ``<stem>.json``."""
        text = (
            f"strict {self.scheme} entity scores (seqeval mode='strict'; the headline)\n\n{self.text}\n"
            f"conlleval-compatible micro F1 (seqeval default mode): {self.conlleval['f1-score']:.4f}\n"
            f"token accuracy: {self.token_accuracy:.4f}\n"
        )
        save_report(stem, text, self.to_dict())


def score_spans(gold: list[list[str]], predicted: list[list[str]], scheme: str) -> SpanReport:
    """Score predicted tag sequences against gold ones (both in ``scheme``: IOB2 or BIOES)."""
    mode = _SEQEVAL_SCHEMES[seqeval_scheme(scheme)]
    kwargs = {"mode": "strict", "scheme": mode, "zero_division": 0}
    scores = classification_report(gold, predicted, output_dict=True, **kwargs)
    text = classification_report(gold, predicted, digits=4, **kwargs)
    lenient = classification_report(gold, predicted, output_dict=True, zero_division=0)["micro avg"]
    total = sum(len(row) for row in gold)
    correct = sum(g == p for gold_row, pred_row in zip(gold, predicted) for g, p in zip(gold_row, pred_row))
    scores = {name: {key: float(value) for key, value in row.items()} for name, row in scores.items()}
    conlleval = {key: float(value) for key, value in lenient.items()}
    return SpanReport(scores, conlleval, correct / total if total else 0.0, scheme, text)
