"""Token scores for labels without spans (``data.scheme: none``, e.g. POS tags): accuracy as the
headline, scikit-learn's per-label precision / recall / F1 / support with macro and weighted
averages, and accuracy on words seen and unseen in training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from sklearn.metrics import classification_report

from birnn_tag.contracts import Confusion
from birnn_tag.tagging.scoring.calibration_error import Calibration
from birnn_tag.tagging.scoring.error_analysis import confusion_matrix
from birnn_tag.tagging.scoring.reports import (
    ScoredSentences, calibration_caption, calibration_data, calibration_text, save_report, scores_table,
)

AVERAGES = ("macro avg", "weighted avg")


@dataclass(frozen=True)
class WordAccuracy:
    """Token accuracy over the tokens of one kind of word (seen or unseen in training)."""

    accuracy: float
    tokens: int


@dataclass(frozen=True)
class LabelReport:
    """Token accuracy, per-label and averaged scores (``{"precision", "recall", "f1-score",
    "support"}``), scikit-learn's text report, and accuracy split by whether each token's word
    was in the training vocabulary (``seen`` / ``unseen``; None when not computed). A report made
    from a model's output has the scored ``sentences`` (written as ``predictions-<split>.conll``);
    a full report (``evaluate``, a run's final reports) has its ``calibration``."""

    accuracy: float
    scores: dict[str, dict[str, float]]
    seen: WordAccuracy | None
    unseen: WordAccuracy | None
    text: str
    scheme: str = "none"
    sentences: ScoredSentences | None = None
    calibration: Calibration | None = None

    def confusion(self) -> Confusion | None:
        """Gold × predicted labels of the scored tokens, or None without the sentences."""
        if self.sentences is None:
            return None
        return confusion_matrix(self.sentences.gold, self.sentences.predicted, self.scheme)

    @property
    def score(self) -> float:
        """The headline, which early stopping maximises: token accuracy."""
        return self.accuracy

    def summary(self) -> dict[str, float]:
        """The numbers logged per epoch in metrics.jsonl."""
        numbers = {"accuracy": self.accuracy, "macro_f1": self.scores["macro avg"]["f1-score"]}
        if self.unseen is not None and self.unseen.tokens:
            numbers["unseen_accuracy"] = self.unseen.accuracy
        return numbers

    def table(self, title: str) -> Table:
        """The report as a rich table: one row per label, then the averages."""
        caption = f"token accuracy {100 * self.accuracy:.2f}% (the headline){self._seen_text()}"
        caption += calibration_caption(self.calibration)
        return scores_table(title, "label", self.scores, AVERAGES, caption)

    def _seen_text(self) -> str:
        if self.seen is None or self.unseen is None:
            return ""
        parts = [
            f"{name} words {100 * part.accuracy:.2f}% ({part.tokens:,} tokens)" if part.tokens else f"no {name} words"
            for name, part in (("seen", self.seen), ("unseen", self.unseen))
        ]
        return "; " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: the scores, and the calibration when it has one."""
        return {
            "scheme": self.scheme,
            "headline": "token accuracy",
            "score": self.accuracy,
            "token_accuracy": self.accuracy,
            "seen_words": None if self.seen is None else asdict(self.seen),
            "unseen_words": None if self.unseen is None else asdict(self.unseen),
            "scores": self.scores,
        } | calibration_data(self.calibration)

    def save(self, stem: Path) -> None:
        """Write ``<stem>.txt`` (scikit-learn's text report plus the accuracies) and ``<stem>.json``."""
        text = (
            f"token accuracy: {self.accuracy:.4f} (the headline)\n"
            f"per-label scores (scikit-learn classification_report)\n\n{self.text}\n{self._seen_lines()}"
        ) + calibration_text(self.calibration)
        save_report(stem, text, self.to_dict(), self.sentences)

    def _seen_lines(self) -> str:
        if self.seen is None or self.unseen is None:
            return ""
        return "".join(
            f"accuracy on {name} words: {part.accuracy:.4f} ({part.tokens} tokens)\n"
            for name, part in (("seen", self.seen), ("unseen", self.unseen))
        )


def score_labels(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    seen: Sequence[Sequence[bool]] | None = None,
    *,
    sentences: ScoredSentences | None = None,
    calibration: Calibration | None = None,
) -> LabelReport:
    """Score predicted labels against gold ones, token by token; ``seen`` marks the tokens whose
    word the model saw in training (parallel to ``gold``). The report keeps the scored
    ``sentences`` and ``calibration`` it is given (see :class:`LabelReport`)."""
    flat_gold = [label for row in gold for label in row]
    flat_predicted = [label for row in predicted for label in row]
    labels = sorted(set(flat_gold) | set(flat_predicted))
    kwargs = {"labels": labels, "zero_division": 0}
    scores = classification_report(flat_gold, flat_predicted, output_dict=True, **kwargs)
    text = classification_report(flat_gold, flat_predicted, digits=4, **kwargs)
    # Over every label, micro P = R = F1 = accuracy; scikit-learn reports it as "accuracy" or
    # "micro avg" depending on the labels given. The headline is computed here instead.
    scores = {name: {key: float(value) for key, value in row.items()} for name, row in scores.items() if name in labels or name in AVERAGES}
    correct = [g == p for gold_row, pred_row in zip(gold, predicted) for g, p in zip(gold_row, pred_row)]
    accuracy = sum(correct) / len(correct) if correct else 0.0
    seen_part = unseen_part = None
    if seen is not None:
        flags = [flag for row in seen for flag in row]
        seen_part = _part([hit for hit, flag in zip(correct, flags) if flag])
        unseen_part = _part([hit for hit, flag in zip(correct, flags) if not flag])
    return LabelReport(accuracy, scores, seen_part, unseen_part, text, sentences=sentences, calibration=calibration)


def _part(hits: list[bool]) -> WordAccuracy:
    return WordAccuracy(sum(hits) / len(hits) if hits else 0.0, len(hits))
