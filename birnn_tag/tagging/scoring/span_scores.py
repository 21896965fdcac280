"""Entity (or chunk) scores for span schemes: seqeval strict mode in the training scheme, the
conlleval-compatible micro scores, and token accuracy."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, IOBES, Entities, Token

from birnn_tag.contracts import Confusion
from birnn_tag.tagging.scoring.calibration_error import Calibration
from birnn_tag.tagging.scoring.error_analysis import KINDS, ErrorAnalysis, analyze_errors, confusion_matrix
from birnn_tag.tagging.scoring.reports import (
    ScoredSentences, calibration_caption, calibration_data, calibration_text, save_report, scores_table,
)
from birnn_tag.tagging.data.schemes import seqeval_scheme

_SEQEVAL_SCHEMES = {"IOB2": IOB2, "IOBES": IOBES}
AVERAGES = ("micro avg", "macro avg", "weighted avg")
_NOTHING = {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0.0}  # scores without entities


@dataclass(frozen=True)
class SpanReport:
    """seqeval's strict-mode per-type and averaged scores (the headline), the conlleval-compatible
    micro scores (seqeval's default mode), token accuracy, and the scheme they were computed in.

    The two modes differ only on invalid tag sequences: conlleval reads ``O I-PER`` as an entity,
    strict mode does not. With constrained decoding (the default) predictions are always valid.

    ``scores``: per type and average, ``{"precision", "recall", "f1-score", "support"}``;
    ``conlleval``: the conlleval-compatible micro scores; ``text``: seqeval's text report. When
    the report was made from a model's output it has the scored ``sentences`` (written as
    ``predictions-<split>.conll``), and from them, when they say which words were seen in
    training, its ``errors``, analysed on first use (a dev score during training never asks).
    A full report (``evaluate``, a run's final reports) has its ``calibration``.
    """

    scores: dict[str, dict[str, float]]
    conlleval: dict[str, float]
    token_accuracy: float
    scheme: str
    text: str
    sentences: ScoredSentences | None = None
    calibration: Calibration | None = None

    def confusion(self) -> Confusion | None:
        """Gold × predicted entity types of the scored sentences (see
        :func:`~birnn_tag.tagging.scoring.error_analysis.confusion_matrix`), or None without them."""
        if self.sentences is None:
            return None
        return confusion_matrix(self.sentences.gold, self.sentences.predicted, self.scheme)

    @functools.cached_property
    def errors(self) -> ErrorAnalysis | None:
        """The error analysis of the scored sentences (None without them)."""
        sentences = self.sentences
        if sentences is None or sentences.seen is None:
            return None
        return analyze_errors(sentences.tokens, sentences.gold, sentences.predicted, sentences.seen, self.scheme)

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

    def table(self, title: str) -> RenderableType:
        """The report as a rich table: one row per entity type, then the averages; then the
        errors by kind, when the report has them."""
        caption = (
            f"strict {self.scheme} entity scores (seqeval, the headline); conlleval-compatible "
            f"micro F1 {100 * self.conlleval['f1-score']:.2f}; token accuracy {100 * self.token_accuracy:.2f}%"
        ) + calibration_caption(self.calibration)
        scores = scores_table(title, "type", self.scores, AVERAGES, caption)
        if self.errors is None:
            return scores
        kinds = Table(title="errors by kind", caption="each false positive and false negative has one kind")
        for column in ("kind", "false positives", "false negatives"):
            kinds.add_column(column, justify="left" if column == "kind" else "right")
        for kind in KINDS:
            kinds.add_row(kind, str(self.errors.false_positives[kind]), str(self.errors.false_negatives[kind]))
        return Group(scores, kinds)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: the scores, the errors and the calibration when it has them."""
        return {
            "scheme": self.scheme,
            "mode": "strict",
            "headline": "strict micro F1",
            "score": self.f1,
            "token_accuracy": self.token_accuracy,
            "scores": self.scores,
            "conlleval_micro": self.conlleval,
        } | ({"errors": self.errors.to_dict()} if self.errors is not None else {}) | calibration_data(self.calibration)

    def save(self, stem: Path) -> None:
        """Write ``<stem>.txt`` (seqeval's text report) and ``<stem>.json``."""
        text = (
            f"strict {self.scheme} entity scores (seqeval mode='strict'; the headline)\n\n{self.text}\n"
            f"conlleval-compatible micro F1 (seqeval default mode): {self.conlleval['f1-score']:.4f}\n"
            f"token accuracy: {self.token_accuracy:.4f}\n"
        )
        if self.errors is not None:
            text += "\n" + self.errors.text()
        text += calibration_text(self.calibration)
        save_report(stem, text, self.to_dict(), self.sentences)


def score_spans(
    gold: list[list[str]],
    predicted: list[list[str]],
    scheme: str,
    *,
    sentences: ScoredSentences | None = None,
    calibration: Calibration | None = None,
) -> SpanReport:
    """Score predicted tag sequences against gold ones (both in ``scheme``: IOB2 or BIOES); the
    report keeps the scored ``sentences`` and ``calibration`` it is given (see :class:`SpanReport`).

    Where neither side has an entity (all ``O``), every average is 0 with no support: seqeval
    would average over no types and fail to lay out its empty table.
    """
    strict = {"mode": "strict", "scheme": _SEQEVAL_SCHEMES[seqeval_scheme(scheme)]}
    found = _has_entities(gold, predicted, strict["scheme"])
    if found:
        scores = _scores(gold, predicted, **strict)
        text = classification_report(gold, predicted, digits=4, zero_division=0, **strict)
    else:
        scores, text = {name: dict(_NOTHING) for name in AVERAGES}, "no entities in the gold tags or the predictions\n"
    # conlleval reads more entities than strict mode (``O I-PER`` is one), never fewer.
    conlleval = _scores(gold, predicted)["micro avg"] if found or _has_entities(gold, predicted) else dict(_NOTHING)
    total = sum(len(row) for row in gold)
    correct = sum(g == p for gold_row, pred_row in zip(gold, predicted) for g, p in zip(gold_row, pred_row))
    return SpanReport(scores, conlleval, correct / total if total else 0.0, scheme, text, sentences, calibration)


def _has_entities(gold: list[list[str]], predicted: list[list[str]], strict: type[Token] | None = None) -> bool:
    """Whether the gold tags or the predictions have an entity, as seqeval reads them in strict
    mode for the scheme ``strict``, or in its default (conlleval) mode. The predictions are read
    only when the gold tags have none (reading costs a tenth of scoring)."""
    if strict is None:
        return bool(get_entities(gold) or get_entities(predicted))
    return bool(Entities(gold, strict).unique_tags or Entities(predicted, strict).unique_tags)


def _scores(gold: list[list[str]], predicted: list[list[str]], **mode) -> dict[str, dict[str, float]]:
    """seqeval's per-type and averaged scores in ``mode`` (its default: conlleval's reading)."""
    report = classification_report(gold, predicted, output_dict=True, zero_division=0, **mode)
    return {name: {key: float(value) for key, value in row.items()} for name, row in report.items()}
