"""A trained tagger as the public API sees it: tag text or tokens, stream large inputs, score a
split or a file; it knows its device and precision, so callers never pass them again."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import torch

from birnn_tag.checkpoint import LoadedModel
from birnn_tag.errors import BirnnTagError
from birnn_tag.data.conllu import TOKEN_COLUMN, column_index
from birnn_tag.options import EvaluateOptions, OutputFormat, PredictOptions, check_format, input_format_for
from birnn_tag.precision import PRECISIONS
from birnn_tag.tagging.prediction import (
    INPUT_FORMATS, OUTPUT_FORMATS, InputSentence, Prediction, format_prediction, input_sentence, predict_stream, read_inputs,
)

if TYPE_CHECKING:  # scoring imports seqeval and datasets, which `predict` never needs
    from birnn_tag.tagging.evaluation import Report


class TaggingModel:
    """A sequence tagger loaded by :func:`birnn_tag.load`.

    ``precision`` (``fp32``, ``bf16`` or ``auto``) applies to tagging and scoring; None is the
    run's ``training.eval_precision``.
    """

    task = "tagging"

    def __init__(self, loaded: LoadedModel, device: torch.device, precision: str | None = None) -> None:
        if precision is not None and precision not in PRECISIONS:
            raise BirnnTagError(f"precision: unknown value {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.loaded, self.device = loaded, device
        self.precision = precision or loaded.config.training.eval_precision

    @property
    def labels(self) -> list[str]:
        """The tags the model predicts, in the run's scheme."""
        return self.loaded.vocabs.labels.items

    def tag(self, texts: Sequence[str], *, pretokenized: bool = False, batch_size: int = 256) -> list[Prediction]:
        """Tag lines of text, tokenized as ``birnn-tag predict`` does (CoNLL/PTB-style; on
        whitespace when ``pretokenized``); one :class:`~birnn_tag.tagging.prediction.Prediction` per text."""
        return list(self.tag_stream(texts, pretokenized=pretokenized, batch_size=batch_size))

    def tag_tokens(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 256) -> list[Prediction]:
        """Tag tokenized sentences; each prediction's text is its tokens joined by spaces."""
        return list(self.tag_stream(sentences, batch_size=batch_size))

    def tag_stream(
        self,
        sentences: Iterable[str | Sequence[str]],
        *,
        pretokenized: bool = False,
        batch_size: int = 256,
        confidences: bool = True,
    ) -> Iterator[Prediction]:
        """Tag an iterable of texts or token lists lazily, a few thousand at a time, so memory
        stays flat on any input size; predictions come in input order.

        Without ``confidences`` the predictions carry none and a CRF skips its forward-backward pass.
        """
        inputs = (input_sentence(item, pretokenized) for item in sentences)
        return self._predict(inputs, batch_size, confidences)

    def _predict(self, inputs: Iterable[InputSentence], batch_size: int, confidences: bool) -> Iterator[Prediction]:
        return predict_stream(
            self.loaded, inputs, batch_size=batch_size, device=self.device, confidences=confidences,
            precision=self.precision,
        )

    def evaluate(self, source: str | Path = "test") -> Report:
        """Scores on a split of the run's data (``source`` a name: ``"test"``, ``"validation"``...)
        or on a file read like it (``source`` a ``Path``): entity scores (seqeval strict mode) for
        span schemes, token accuracy and per-label scores for runs without spans (``data.scheme:
        none``); the report's ``score`` is the headline number."""
        from birnn_tag.tagging.evaluation import evaluate_checkpoint

        split, data_file = (source, None) if isinstance(source, str) else ("test", str(source))
        return evaluate_checkpoint(self.loaded, split=split, data_file=data_file, device=self.device, precision=self.precision)

    def evaluate_command(self, split: str, data: Path | None, options: EvaluateOptions) -> Report:
        """``birnn-tag evaluate``: tagging has no options of its own."""
        return self.evaluate(split if data is None else data)

    def predict_command(
        self, name: str, options: PredictOptions, warn: Callable[[str], None]
    ) -> Callable[[BinaryIO], Iterator[str]]:
        """``birnn-tag predict``: checks the options now, and returns a function from an input
        stream (called ``name`` in messages) to formatted results (CoNLL columns or JSON lines)."""
        input_format = input_format_for(options.input_format, name, INPUT_FORMATS, self.task)
        output_format = check_format("--format", options.output_format or OutputFormat.conll, OUTPUT_FORMATS, self.task)
        token_column = self._token_column(input_format)

        def run(handle: BinaryIO) -> Iterator[str]:
            inputs = read_inputs(handle, name, input_format, token_column)
            # CoNLL columns show no confidences: not computing them saves the CRF's forward-backward.
            for prediction in self._predict(inputs, options.batch_size, output_format == "jsonl"):
                yield format_prediction(prediction, output_format)

        return run

    def _token_column(self, input_format: str) -> int | None:
        """Where tokens are in CoNLL / CoNLL-U input: the run's ``data.token_column`` when it
        names a column of that format (an index; a CoNLL-U column name), else None (the
        format's default)."""
        column = self.loaded.config.data.token_column
        if input_format == "conllu":
            return column_index(column, TOKEN_COLUMN, "token_column") if isinstance(column, str) else None
        return column if isinstance(column, int) else None
