"""What every trained tagger offers the public API, whichever backend runs it (PyTorch, or an
exported model's onnxruntime): tag text or tokens, stream large inputs, run ``predict``.
Torch-free; each backend supplies the step that tags a group of pieces."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from birnn_tag.config import Config
from birnn_tag.data.reading.conllu import TOKEN_COLUMN, column_index
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.cli.options import OutputFormat, PredictOptions, check_format, input_format_for
from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.data.schemes import NO_SPANS
from birnn_tag.tagging.prediction.streaming import (
    INPUT_FORMATS, OUTPUT_FORMATS, Decode, InputSentence, KBest, Prediction, format_prediction, input_sentence,
    read_inputs, tag_sentences,
)


class TaggingBase:
    """A tagger's inputs and outputs; subclasses give :meth:`decoder` (and may score data)."""

    task = "tagging"

    def __init__(self, config: Config, vocabs: Vocabularies) -> None:
        self.config, self.vocabs = config, vocabs

    def decoder(self, batch_size: int) -> Decode:
        """The backend's step from a group of token lists to tag ids and confidences."""
        raise NotImplementedError

    def k_best_decoder(self, batch_size: int, k: int) -> KBest:
        """The backend's step from a group of token lists to each one's ``k`` best sequences."""
        raise BirnnTagError("--k-best: needs a PyTorch run with a CRF head; an export has none")

    def describe(self) -> dict[str, Any]:
        """What the model is, for ``GET /info``: task, labels, scheme, ``max_length``."""
        return {"task": self.task, "labels": self.labels, "scheme": self.config.data.scheme, "max_length": self.config.data.max_length}

    @property
    def labels(self) -> list[str]:
        """The tags the model predicts, in the run's scheme."""
        return self.vocabs.labels.items

    def tag(self, texts: Sequence[str], *, pretokenized: bool = False, batch_size: int = 256) -> list[Prediction]:
        """Tag lines of text, tokenized as ``birnn-tag predict`` does (CoNLL/PTB-style; on
        whitespace when ``pretokenized``); one :class:`~birnn_tag.tagging.prediction.streaming.Prediction` per text."""
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
        k_best: int = 0,
    ) -> Iterator[Prediction]:
        """Tag an iterable of texts or token lists lazily, a few thousand at a time, so memory
        stays flat on any input size; predictions come in input order.

        Without ``confidences`` the predictions carry none and a CRF skips its forward-backward
        pass. ``k_best`` > 0 (CRF heads) lists each sentence's ``k_best`` most probable sequences.
        """
        inputs = (input_sentence(item, pretokenized, number) for number, item in enumerate(sentences, start=1))
        return self._tagger(batch_size, k_best)(inputs, confidences)

    def _tagger(self, batch_size: int, k: int) -> Callable[[Iterable[InputSentence], bool], Iterator[Prediction]]:
        """Inputs → predictions, with the backend's steps made (and ``--k-best`` checked) now."""
        decode, k_best = self.decoder(batch_size), self.k_best_decoder(batch_size, k) if k else None
        return lambda inputs, confidences: tag_sentences(
            self.config, self.vocabs, decode, inputs, confidences=confidences, k_best=k_best, k=k
        )

    def predict_command(
        self, name: str, options: PredictOptions, warn: Callable[[str], None]
    ) -> Callable[[BinaryIO], Iterator[str]]:
        """``birnn-tag predict``: checks the options now, and returns a function from an input
        stream (called ``name`` in messages) to formatted results (CoNLL columns or JSON lines)."""
        input_format = input_format_for(options.input_format, name, INPUT_FORMATS, self.task)
        output_format = check_format("--format", options.output_format or OutputFormat.conll, OUTPUT_FORMATS, self.task)
        token_column = self._token_column(input_format)
        if options.k_best and output_format != "jsonl":
            raise BirnnTagError("--k-best: the sequences are written in JSONL only; add --format jsonl")
        threshold = options.min_confidence
        if threshold is not None and (output_format != "jsonl" or self.config.data.scheme == NO_SPANS):
            raise BirnnTagError("--min-confidence: filters the spans of JSONL output; add --format jsonl (span runs only)")
        tag = self._tagger(options.batch_size, options.k_best)

        def run(handle: BinaryIO) -> Iterator[str]:
            inputs = read_inputs(handle, name, input_format, token_column)
            dropped = total = 0
            # CoNLL columns show no confidences: not computing them saves the CRF's forward-backward.
            for prediction in tag(inputs, output_format == "jsonl"):
                if threshold is not None:
                    total += len(prediction.spans)
                    dropped += sum(span.confidence < threshold for span in prediction.spans)
                yield format_prediction(prediction, output_format, threshold)
            if threshold is not None:
                warn(f"--min-confidence {threshold}: dropped {dropped:,} of {total:,} spans")

        return run

    def _token_column(self, input_format: str) -> int | None:
        """Where tokens are in CoNLL / CoNLL-U input: the run's ``data.token_column`` when it
        names a column of that format (an index; a CoNLL-U column name), else None (the
        format's default)."""
        column = self.config.data.token_column
        if input_format == "conllu":
            return column_index(column, TOKEN_COLUMN, "token_column") if isinstance(column, str) else None
        return column if isinstance(column, int) else None
