"""The commands' choices (enums Typer offers) and ``predict``'s options per task, with the checks
that refuse a choice a model's task does not take."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath

from birnn_tag.config import Precision as PrecisionName
from birnn_tag.config import TrainingConfig
from birnn_tag.errors import BirnnTagError


def _choices(name: str, literal: typing.Any) -> type[Enum]:
    """A string enum of a config ``Literal``'s values, so the schema stays their one source."""
    return Enum(name, [(value, value) for value in typing.get_args(literal)], type=str)


# Where a model runs (``auto``: CUDA when there is one), and tagging inference's precision
# (``auto``: bf16 on hardware that multiplies it natively).
Device = _choices("Device", typing.get_type_hints(TrainingConfig)["device"])
Precision = _choices("Precision", PrecisionName)


class ResumeMode(str, Enum):
    """``train --resume``: alone ``yes``; ``auto`` resumes when the run folder has a ``last.pt``."""

    yes = "yes"
    no = "no"
    auto = "auto"


# What each choice asks of ``birnn_tag.train``; no option at all is ``no``.
RESUMING: dict[ResumeMode | None, bool | str] = {None: False, ResumeMode.no: False, ResumeMode.yes: True, ResumeMode.auto: "auto"}


class InputFormat(str, Enum):
    """What ``predict`` reads. Tagging: text, pretokenized, conll, conllu, documents. Cloze: text,
    jsonl. ``auto``: by the input file's extension (see :func:`input_format_for`)."""

    auto = "auto"
    text = "text"
    pretokenized = "pretokenized"
    conll = "conll"
    conllu = "conllu"
    jsonl = "jsonl"
    documents = "documents"
    parquet = "parquet"


# The formats an input file's extension names; any other file (and stdin) is read as text.
_FORMAT_OF_SUFFIX = {".conll": "conll", ".conllu": "conllu", ".jsonl": "jsonl", ".parquet": "parquet"}


class OutputFormat(str, Enum):
    """What ``predict`` writes. Tagging: conll, jsonl, pre-annotations for label-studio and
    doccano, and parquet (jsonl's fields as columns). Cloze: jsonl, text."""

    conll = "conll"
    jsonl = "jsonl"
    text = "text"
    label_studio = "label-studio"
    doccano = "doccano"
    parquet = "parquet"


class Strategy(str, Enum):
    """How ``select`` ranks inputs (:mod:`birnn_tag.tagging.tools.selection`)."""

    least_confidence = "least-confidence"
    margin = "margin"
    entropy = "entropy"
    random = "random"


PRECISION_HELP = "Tagging: auto is bf16 on hardware with native bf16. Default: training.eval_precision."
DEVICE_HELP = "Where to run: auto picks CUDA when available."


@dataclass(frozen=True)
class TaggingOptions:
    """``predict``'s options for taggers (their defaults: not given)."""

    k_best: int = 0
    min_confidence: float | None = None
    text_column: str = "text"


@dataclass(frozen=True)
class ClozeOptions:
    """``predict``'s options for cloze models; ``choices`` as typed (comma-separated words)."""

    top_k: int = 10
    choices: str | None = None
    blank: str = "___"


def check_format(option: str, value: Enum, accepted: tuple[str, ...], task: str) -> str:
    """``value``'s string if this task accepts it; otherwise an error naming the task's values."""
    if value.value not in accepted:
        raise BirnnTagError(f"{option}: {value.value!r} does not apply to {task} models; expected one of {', '.join(accepted)}")
    return value.value


def input_format_for(value: InputFormat, name: str, accepted: tuple[str, ...], task: str) -> str:
    """The format to read input ``name`` in: ``value``, if this task accepts it; for ``auto``,
    the one its extension names (``.conll``, ``.conllu``, ``.jsonl``, ``.parquet``), or text
    for any other name. An extension naming a format the task does not read is an error: read
    as text, a JSONL file's braces and keys would be tagged as words."""
    if value is InputFormat.auto:
        guess = named_format(name)
        if guess not in accepted:
            raise BirnnTagError(
                f"{name}: its extension says {guess}, which {task} models do not read; "
                f"pass --input-format, one of {', '.join(accepted)}"
            )
        return guess
    return check_format("--input-format", value, accepted, task)


def named_format(name: str) -> str:
    """The input format file ``name``'s extension names (``.conll``, ``.conllu``, ``.jsonl``,
    ``.parquet``), else ``text``."""
    return _FORMAT_OF_SUFFIX.get(PurePath(name).suffix.lower(), "text")
