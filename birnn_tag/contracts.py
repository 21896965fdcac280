"""The typed contracts between the tasks and the code that serves every task (the API, the CLI,
the service, the training loop): what a score report offers, what a trained model offers, and
what a task does in training and loading.

Each task's public objects subclass these bases, so the shared code tells a tagger from a cloze
model by type (``isinstance(model, Filler)``), never by probing for methods or comparing task
names. Torch-free: an exported model implements them without PyTorch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Generic, Literal, NamedTuple, Protocol, TypeVar

from rich.console import RenderableType

if TYPE_CHECKING:  # types of the training steps only: importing this module imports no PyTorch
    import torch
    from torch import nn

    from birnn_tag.config import Config
    from birnn_tag.data.split import Split
    from birnn_tag.data.vocab import Vocabularies
    from birnn_tag.runs.checkpoint import LoadedModel


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
    #: The formats the model reads (``predict --input-format``) and writes (``--format``).
    input_formats: ClassVar[tuple[str, ...]]
    output_formats: ClassVar[tuple[str, ...]]

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

    @property
    @abstractmethod
    def has_spans(self) -> bool:
        """Whether predictions mark spans (a span scheme), which ``--min-confidence`` filters."""

    @abstractmethod
    def table_schema(self) -> Any:
        """The ``pyarrow.Schema`` of predictions' records as a table (``predict --format parquet``)."""

    @abstractmethod
    def read_inputs(
        self, handle: BinaryIO, name: str, input_format: str, *, pretokenized: bool = False, encoding: str = "utf-8",
        encoding_setting: str = "encoding", text_column: str = "text",
    ) -> Iterator[Any]:
        """Sentences or documents from a byte stream called ``name`` in messages, in one of
        :attr:`input_formats` and ``encoding`` (bytes that are not are an error naming
        ``encoding_setting``; a table's ``text_column``), for :meth:`tag_stream`."""

    @abstractmethod
    def document(self, text: str, *, pretokenized: bool = False) -> Any:
        """``text`` as a document for :meth:`tag_stream`: split into sentences, tagged, and
        answered as one prediction whose offsets index ``text``."""

    @abstractmethod
    def tag_stream(self, sentences: Iterable[Any], **options: Any) -> Iterator[Record]:
        """Predictions for texts, token lists or :meth:`read_inputs`' sentences, lazily, in input order."""


class Filler(TrainedModel):
    """A trained model that fills in blanks."""

    @abstractmethod
    def read_queries(self, handle: BinaryIO, name: str, input_format: str, **options: Any) -> Iterator[Any]:
        """Lines with blanks from a byte stream called ``name`` in messages, in one of
        :attr:`input_formats`, for :meth:`fill_stream`."""

    @abstractmethod
    def fill_stream(self, lines: Iterable[Any], **options: Any) -> Iterator[Record]:
        """Answers for lines with blanks or :meth:`read_queries`' queries, lazily, in input order."""

    @abstractmethod
    def unique_choices(self, choices: Sequence[str], field: str = "choices") -> list[str]:
        """``choices`` once each, in first-seen order; a word the model cannot rank is refused
        naming ``field[index]``."""


@dataclass(frozen=True)
class Finished:
    """What a task's step after training did to the best model: ``checkpoint`` holds the entries
    to record in ``best.pt`` (rewritten then with the model's new state), ``note`` a line for the log."""

    checkpoint: dict[str, Any]
    note: str


#: What a task's :meth:`Task.read` returns and only its other steps look into.
CorpusT = TypeVar("CorpusT")


class Task(ABC, Generic[CorpusT]):
    """What differs between tasks when a model is trained or loaded; one instance per task in the
    registry (:mod:`birnn_tag.tasks`). The training loop, model loading and the API call these
    steps and stay task-agnostic. The optional steps do nothing unless a task overrides them.

    Data flows one way: :meth:`read` the configured data, :meth:`settle` what the config leaves
    to it, :meth:`encode_splits` with the settled config; nothing later changes the config.
    """

    #: What the loss is a mean over: several processes weight their shares of a batch by it.
    loss_mean_over: ClassVar[Literal["sentences", "tokens"]]
    #: Whether a trained model's confidences can be calibrated (``birnn-tag calibrate``).
    can_calibrate: ClassVar[bool] = False
    #: The Hugging Face Hub's ``pipeline_tag`` for a shared model of the task (``birnn-tag push``).
    pipeline_tag: ClassVar[str]

    @abstractmethod
    def read(self, config: Config) -> CorpusT:
        """The configured splits as read (files, a saved dataset, the Hub), nothing derived yet."""

    def settle(self, config: Config, corpus: CorpusT) -> Config:
        """``config`` with the settings it leaves to the data decided (tagging: ``data.scheme:
        auto`` by the training tags); a run saves, and its model is built from, the result."""
        return config

    @abstractmethod
    def encode_splits(
        self, config: Config, corpus: CorpusT, vocabs: Vocabularies | None
    ) -> tuple[Vocabularies, dict[str, Split]]:
        """The vocabularies (``vocabs``, or built from the training split when None) and the
        encoded splits by name, ``config`` as :meth:`settle` gives it."""

    @abstractmethod
    def build_model(self, config: Config, vocabs: Vocabularies, folder: Path | None = None) -> nn.Module:
        """An untrained model. ``folder``: a trained run's, whose kept files (a transformer's
        tokenizer...) the model is rebuilt from; None for a new model."""

    def prepare_split(self, model: nn.Module, split: Split) -> Split:
        """``split`` ready for training on or scoring by ``model`` (e.g. with its cached
        contextual features); a new split, the given one is left as it is."""
        return split

    def keep_files(self, model: nn.Module, folder: Path) -> None:
        """Write into a new run ``folder``, with its first checkpoint, what rebuilding the model
        needs besides the checkpoint (see :meth:`build_model`)."""

    @abstractmethod
    def score(
        self, model: nn.Module, split: Split, vocabs: Vocabularies, config: Config, device: torch.device, *, full: bool = False
    ) -> Report:
        """``model``'s report on ``split``. ``full``: a final report with its extras (tagging:
        calibration errors), not a dev score per epoch."""

    def initialize(self, model: nn.Module, config: Config, vocabs: Vocabularies) -> str | None:
        """Initialise a fresh (not resumed, not loaded) model, e.g. with pretrained vectors;
        returns a line for the log, or None."""
        return None

    def finish(
        self, model: nn.Module, splits: dict[str, Split], vocabs: Vocabularies, config: Config, device: torch.device
    ) -> Finished | None:
        """A step on the best model after training (tagging: fit its temperature on validation),
        or None when there is nothing to do."""
        return None

    @abstractmethod
    def open(self, loaded: LoadedModel, device: torch.device, precision: str | None) -> TrainedModel:
        """The public model around a loaded one, on ``device``, at an inference ``precision``
        (None: the run's)."""

    @abstractmethod
    def may_skip_parameters(self, model: nn.Module) -> bool:
        """Whether some parameters can go without a gradient in a step (DistributedDataParallel
        must then look for them after every backward pass, which costs time)."""
