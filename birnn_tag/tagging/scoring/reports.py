"""What the tagging score reports share: a rich table of per-class precision / recall / F1 /
support rows followed by their averages, and the ``.txt`` / ``.json`` pair a report is saved as."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from birnn_tag.tagging.scoring.calibration_error import Calibration


def scores_table(
    title: str, first_column: str, scores: dict[str, dict[str, float]], averages: Sequence[str], caption: str
) -> Table:
    """One row per class of ``scores`` (sorted), a rule, then the ``averages`` rows it has."""
    table = Table(title=title, caption=caption)
    for column in (first_column, "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == first_column else "right")
    classes = sorted(name for name in scores if name not in averages)
    for index, name in enumerate(classes + [name for name in averages if name in scores]):
        row = scores[name]
        table.add_row(
            name,
            f"{100 * row['precision']:.2f}",
            f"{100 * row['recall']:.2f}",
            f"{100 * row['f1-score']:.2f}",
            str(int(row["support"])),
            end_section=index == len(classes) - 1,
        )
    return table


@dataclass(frozen=True)
class ScoredSentences:
    """The sentences a report scored: tokens, gold and predicted tags, and which tokens' words
    were ``seen`` in training (None when not known)."""

    tokens: list[list[str]]
    gold: list[list[str]]
    predicted: list[list[str]]
    seen: list[list[bool]] | None = None

    def write_conll(self, path: Path) -> None:
        """``token<TAB>gold<TAB>predicted`` lines, a blank line after each sentence (Flair's ``test.tsv``)."""
        with path.open("w", encoding="utf-8") as out:
            for tokens, gold, predicted in zip(self.tokens, self.gold, self.predicted):
                out.writelines(f"{t}\t{g}\t{p}\n" for t, g, p in zip(tokens, gold, predicted))
                out.write("\n")


def calibration_caption(calibration: Calibration | None) -> str:
    """What a report's table caption adds for its calibration (nothing without one)."""
    return "" if calibration is None else f"; {calibration.line()}"


def calibration_text(calibration: Calibration | None) -> str:
    """What a report's ``.txt`` file ends with for its calibration (nothing without one)."""
    return "" if calibration is None else f"\n{calibration.line()}\n"


def calibration_data(calibration: Calibration | None) -> dict[str, Any]:
    """What a report's JSON adds for its calibration (nothing without one)."""
    return {} if calibration is None else {"calibration": calibration.to_dict()}


def save_report(stem: Path, text: str, data: dict[str, Any], sentences: ScoredSentences | None = None) -> None:
    """Write ``<stem>.txt`` (``text``) and ``<stem>.json`` (``data``), and with ``sentences``
    their predictions next to them: ``report-test`` → ``predictions-test.conll``."""
    stem.with_name(stem.name + ".txt").write_text(text, encoding="utf-8")
    stem.with_name(stem.name + ".json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    if sentences is not None:
        name = stem.name.replace("report", "predictions", 1)  # report-data-x.conll → predictions-data-x.conll
        sentences.write_conll(stem.with_name(name if name.endswith(".conll") else name + ".conll"))
