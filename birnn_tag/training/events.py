"""What a training run reports while it runs: small frozen records passed to a callback.

The library never prints; the CLI renders these (a progress bar, one line per epoch, the final
report tables), and a notebook or service can log or collect them instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from birnn_tag.contracts import Report


@dataclass(frozen=True)
class Message:
    """A line for the user: the run's size, pretrained vectors found, a warning, early stopping."""

    text: str
    level: Literal["info", "warning"] = "info"


@dataclass(frozen=True)
class StepsDone:
    """Progress within an epoch (sent every few steps: reading the loss waits for the device)."""

    epoch: int
    step: int
    steps: int
    loss: float
    tokens_per_s: float


@dataclass(frozen=True)
class EpochDone:
    """An epoch's ``metrics.jsonl`` record: epoch, lr, train loss/tokens/seconds, ``dev_*`` scores,
    and ``best`` (whether it wrote ``best.pt``); ``score``: the dev score that picks the best
    epoch (the report's headline, higher is better), None without a validation split."""

    record: dict[str, Any]
    score: float | None = None


@dataclass(frozen=True)
class ReportDone:
    """The best checkpoint's scores on a split, saved as ``report-<split>.*`` in the run folder."""

    split: str
    checkpoint: Path
    report: Report


class StopTraining(Exception):  # noqa: N818 - a request, not an error
    """Raised by a listener to end a run after an epoch (``tune`` prunes a trial this way): the
    run folder keeps what was written, and trackers record the run as stopped, not failed."""


Event = Union[Message, StepsDone, EpochDone, ReportDone]
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener of a run nobody watches (and of every rank but the first under torchrun)."""
