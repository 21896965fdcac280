"""The typed contracts between the tasks and the code that serves every task (the API, the CLI,
the service, the training loop): what a score report offers, and what a trained model offers.

Each task's public objects subclass these bases, so the shared code tells a tagger from a cloze
model by type (``isinstance(model, Filler)``), never by probing for methods or comparing task
names. Torch-free: an exported model implements them without PyTorch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from rich.console import RenderableType


class Confusion(NamedTuple):
    """Gold × predicted counts: ``counts[row][column]`` sentences' tokens or spans of gold class
    ``rows[row]`` predicted as ``columns[column]``."""

    counts: list[list[int]]
    rows: list[str]
    columns: list[str]


class Record(Protocol):
    """One prediction or answer, as the service and ``predict --format jsonl`` write it."""

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record."""
        ...


class Report(Protocol):
    """A model's scores on one split or file, frozen once computed."""

    @property
    def score(self) -> float:
        """The headline number (higher is better): what early stopping and ``compare`` use."""
        ...

    def summary(self) -> dict[str, float]:
        """The numbers a metrics record and ``GET /info`` show, by name."""
        ...

    def table(self, title: str) -> RenderableType:
        """A table for the terminal, headed ``title``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report, JSON-ready."""
        ...

    def save(self, stem: Path) -> None:
        """Write ``stem.txt`` (the table as text) and ``stem.json`` (:meth:`to_dict`)."""
        ...

    def confusion(self) -> Confusion | None:
        """Gold × predicted counts, or None where the task has no classes to confuse."""
        ...


class TrainedModel(ABC):
    """What :func:`birnn_tag.load` returns, whichever the task and backend."""

    #: The task's name, as in the run's ``task:`` key (for messages and ``GET /info``).
    task: str

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the model is, for ``GET /info``: task, backend, source, labels or vocabulary, scores."""

    @abstractmethod
    def evaluate(self, source: str | Path = "test", **options: Any) -> Report:
        """Scores on a split of the run's data (``source`` a name) or a file read like it (a ``Path``)."""


class Tagger(TrainedModel):
    """A trained model that labels tokens."""

    @property
    @abstractmethod
    def labels(self) -> list[str]:
        """The tags the model predicts, in the run's scheme."""

    @abstractmethod
    def tag_stream(self, sentences: Iterable[str | Sequence[str]], **options: Any) -> Iterator[Record]:
        """Predictions for texts or token lists, lazily, in input order."""


class Filler(TrainedModel):
    """A trained model that fills in blanks."""

    @abstractmethod
    def fill_stream(self, lines: Iterable[str], **options: Any) -> Iterator[Record]:
        """Answers for lines with blanks, lazily, in input order."""

    @abstractmethod
    def unique_choices(self, choices: Sequence[str], field: str = "choices") -> list[str]:
        """``choices`` once each, in first-seen order; a word the model cannot rank is refused
        naming ``field[index]``."""
