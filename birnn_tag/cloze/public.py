"""A trained fill-in-the-blank model as the public API sees it: fill lines with blanks, stream
large inputs, score a split or a text file; it knows its device."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import torch

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.cloze.prediction import (
    INPUT_FORMATS, OUTPUT_FORMATS, Answer, ClozeQuery, check_blank, fill_blanks, make_query, read_queries, tokenizer_for,
    unique_choices,
)
from birnn_tag.contracts import Filler
from birnn_tag.data.reading.conll import check_encoding
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.folder import report_scores, run_folder_of

if TYPE_CHECKING:
    from birnn_tag.cloze.evaluation import ClozeReport


class ClozeModel(Filler):
    """A fill-in-the-blank model loaded by :func:`birnn_tag.load`."""

    task = "cloze"
    #: What :meth:`read_queries` reads and :func:`~birnn_tag.cloze.prediction.format_answer` writes.
    input_formats: ClassVar[tuple[str, ...]] = INPUT_FORMATS
    output_formats: ClassVar[tuple[str, ...]] = OUTPUT_FORMATS

    def __init__(self, loaded: LoadedModel, device: torch.device, precision: str | None = None) -> None:
        if precision is not None:
            raise BirnnTagError(f"--precision: applies to tagging models; this is a {self.task} model")
        self.loaded, self.device = loaded, device

    def describe(self) -> dict[str, Any]:
        """What the model is, for ``GET /info``: task, vocabulary size, checkpoint, the run's scores."""
        return {
            "task": self.task, "vocabulary": len(self.loaded.vocabs.words), "backend": "pytorch",
            "source": str(self.loaded.path), "metrics": report_scores(run_folder_of(self.loaded.path)),
        }

    @staticmethod
    def unique_choices(choices: Sequence[str], field: str = "choices") -> list[str]:
        """``choices`` once each, in first-seen order; a special token (``<pad>``, ``<unk>``) is
        refused naming ``field[index]``, as :meth:`fill` does."""
        return unique_choices(choices, field)

    def fill(
        self,
        lines: Sequence[str],
        *,
        top_k: int = 10,
        choices: Sequence[str] | None = None,
        blank: str = "___",
        batch_size: int = 64,
    ) -> list[Answer]:
        """Candidates for every blank (``blank`` or ``[MASK]``) of each line: the ``top_k`` most
        probable words, or the given ``choices`` ranked by probability. A line without a blank,
        or with nothing but blanks, gets an answer whose ``error`` says so."""
        return list(self.fill_stream(lines, top_k=top_k, choices=choices, blank=blank, batch_size=batch_size))

    def fill_stream(
        self,
        lines: Iterable[str | ClozeQuery],
        *,
        top_k: int = 10,
        choices: Sequence[str] | None = None,
        blank: str = "___",
        batch_size: int = 64,
    ) -> Iterator[Answer]:
        """:meth:`fill` lazily over any iterable of lines or of queries from :meth:`read_queries`
        (which carry their own blanks and choices), a thousand at a time, in input order."""
        check_blank(blank)
        tokenizer, ranked = tokenizer_for(self.loaded), None if choices is None else unique_choices(choices, "choices")
        queries = (
            text if isinstance(text, ClozeQuery) else make_query(number, text, blank, tokenizer, ranked)
            for number, text in enumerate(lines, start=1)
        )
        return fill_blanks(self.loaded, queries, top_k=top_k, batch_size=batch_size, device=self.device)

    def evaluate(self, source: str | Path = "test", *, fraction: float = 1.0, count_unk: bool = False) -> ClozeReport:
        """Top-1/5/10 accuracy and perplexity on a split of the run's text (``source`` a name) or
        on a text file (``source`` a ``Path``): every position, or a random ``fraction``;
        ``<unk>`` targets only if ``count_unk``."""
        from birnn_tag.cloze.evaluation import evaluate_cloze_checkpoint

        split, data_file = (source, None) if isinstance(source, str) else ("test", str(source))
        return evaluate_cloze_checkpoint(
            self.loaded, split=split, data_file=data_file, fraction=fraction, count_unk=count_unk, device=self.device
        )

    def read_queries(
        self, handle: BinaryIO, name: str, input_format: str, *, blank: str = "___", choices: Sequence[str] | None = None,
        encoding: str = "utf-8", encoding_setting: str = "encoding",
    ) -> Iterator[ClozeQuery]:
        """Queries from a stream called ``name`` in messages, tokenized as the model was trained:
        lines of ``text``, or ``jsonl`` objects ``{"text": ..., "choices": [...]}`` (a line's
        choices replace ``choices``); for :meth:`fill_stream`. Its bytes are in ``encoding`` (a
        mistake is an error naming ``encoding_setting``)."""
        ranked = None if choices is None else unique_choices(choices, "choices")
        check_encoding(encoding, encoding_setting)
        return read_queries(handle, name, input_format, blank, tokenizer_for(self.loaded), ranked, encoding, encoding_setting)
