"""What every trained tagger offers the public API, whichever backend runs it (PyTorch, or an
exported model's onnxruntime): tag text or tokens, stream large inputs, read input files.
Torch-free; each backend supplies the step that tags a group of pieces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, ClassVar

from birnn_tag.config import Config
from birnn_tag.contracts import Tagger
from birnn_tag.data.reading.conll import check_encoding, decode_lines
from birnn_tag.data.reading.tokenize import tokenizer_for
from birnn_tag.data.reading.conllu import TOKEN_COLUMN, column_index
from birnn_tag.data.tables import read_column
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.data.schemes import NO_SPANS
from birnn_tag.tagging.prediction.documents import InputDocument, document_text, input_document, tag_documents
from birnn_tag.tagging.prediction.streaming import (
    INPUT_FORMATS, OUTPUT_FORMATS, Decode, InputSentence, KBest, Prediction, input_sentence, read_inputs, tag_sentences,
)


class TaggingBase(Tagger):
    """A tagger's inputs and outputs; subclasses give :meth:`decoder` and :meth:`evaluate`."""

    task = "tagging"
    #: What :meth:`read_inputs` reads and :func:`~birnn_tag.tagging.prediction.streaming.format_prediction` writes.
    input_formats: ClassVar[tuple[str, ...]] = (*INPUT_FORMATS, "documents", "parquet")
    output_formats: ClassVar[tuple[str, ...]] = (*OUTPUT_FORMATS, "parquet")

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

    @property
    def scores_sequences(self) -> bool:
        """Whether the model gives tag sequences probabilities (``k_best``: a CRF head of a PyTorch run)."""
        return False

    @property
    def has_spans(self) -> bool:
        """Whether predictions mark entity spans (a span scheme; not ``data.scheme: none``)."""
        return self.config.data.scheme != NO_SPANS

    def table_schema(self) -> Any:
        """The ``pyarrow.Schema`` of :meth:`~birnn_tag.tagging.prediction.streaming.Prediction.to_record` as a table."""
        from birnn_tag.tagging.prediction.tables import record_schema

        return record_schema()

    def tag(self, texts: Sequence[str], *, pretokenized: bool = False, batch_size: int = 256) -> list[Prediction]:
        """Tag lines of text, tokenized as ``birnn-tag predict`` does (the run's ``data.tokenizer``;
        on whitespace when ``pretokenized``); one :class:`~birnn_tag.tagging.prediction.streaming.Prediction` per text."""
        return list(self.tag_stream(texts, pretokenized=pretokenized, batch_size=batch_size))

    def tag_documents(self, texts: Sequence[str], *, pretokenized: bool = False, batch_size: int = 256) -> list[Prediction]:
        """Tag documents or paragraphs: each text is split into sentences, which are tagged, and
        answered as one prediction whose offsets (and spans) index the text."""
        return list(self.tag_stream([self.document(text, pretokenized=pretokenized) for text in texts], batch_size=batch_size))

    def document(self, text: str, *, pretokenized: bool = False) -> InputDocument:
        """``text`` as a document for :meth:`tag_stream`, tokenized with the run's tokenizer (on
        whitespace when ``pretokenized``)."""
        return input_document(text, pretokenized, tokenizer_for(self.config.data.tokenizer))

    def tag_tokens(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 256) -> list[Prediction]:
        """Tag tokenized sentences; each prediction's text is its tokens joined by spaces."""
        return list(self.tag_stream(sentences, batch_size=batch_size))

    def tag_stream(
        self,
        sentences: Iterable[str | Sequence[str] | InputSentence | InputDocument],
        *,
        pretokenized: bool = False,
        batch_size: int = 256,
        confidences: bool = True,
        k_best: int = 0,
    ) -> Iterator[Prediction]:
        """Tag an iterable of texts, token lists, or sentences and documents from :meth:`read_inputs`
        lazily, a few thousand at a time, so memory stays flat on any input size; predictions come
        in input order, one per document. The backend's steps are made (and ``k_best`` checked) when this is called.

        Without ``confidences`` the predictions carry none and a CRF skips its forward-backward
        pass. ``k_best`` > 0 (CRF heads) lists each sentence's ``k_best`` most probable sequences.
        """
        tokenizer = tokenizer_for(self.config.data.tokenizer)
        decode, k_best_decode = self.decoder(batch_size), self.k_best_decoder(batch_size, k_best) if k_best else None
        inputs = (
            item if isinstance(item, (InputSentence, InputDocument)) else input_sentence(item, pretokenized, number, tokenizer)
            for number, item in enumerate(sentences, start=1)
        )

        def tag(sentences: Iterable[InputSentence]) -> Iterator[Prediction]:
            return tag_sentences(self.config, self.vocabs, decode, sentences, confidences=confidences, k_best=k_best_decode, k=k_best)

        return tag_documents(tag, inputs)

    def read_inputs(
        self, handle: BinaryIO, name: str, input_format: str, *, pretokenized: bool = False, encoding: str = "utf-8",
        encoding_setting: str = "encoding", text_column: str = "text",
    ) -> Iterator[InputSentence | InputDocument]:
        """Sentences from a stream called ``name`` in messages, in one of :attr:`input_formats`,
        its bytes in ``encoding`` (a mistake is an error naming ``encoding_setting``): a sentence
        per line of ``text`` or ``pretokenized`` input, CoNLL and CoNLL-U sentences (tokens from
        the run's ``data.token_column`` when it names a column of that format), with
        ``documents`` a document per line (or per JSON object's ``text``), split on whitespace
        when ``pretokenized``, or with ``parquet`` a sentence per row of a Parquet file's
        ``text_column`` (text, tokenized like ``text`` input, or a list of tokens)."""
        check_encoding(encoding, encoding_setting)
        tokenizer = tokenizer_for(self.config.data.tokenizer)
        if input_format == "parquet":
            rows = read_column(handle, name, text_column)
            return (input_sentence(row, pretokenized, number, tokenizer) for number, row in enumerate(rows, start=1))
        if input_format == "documents":
            lines = decode_lines(handle, name, encoding, encoding_setting)
            return (input_document(document_text(line), pretokenized, tokenizer) for _, line in lines)
        return read_inputs(handle, name, input_format, self._token_column(input_format), encoding, encoding_setting, tokenizer)

    def _token_column(self, input_format: str) -> int | None:
        """Where tokens are in CoNLL / CoNLL-U input: the run's ``data.token_column`` when it
        names a column of that format (an index; a CoNLL-U column name), else None (the
        format's default)."""
        column = self.config.data.token_column
        if input_format == "conllu":
            return column_index(column, TOKEN_COLUMN, "token_column") if isinstance(column, str) else None
        return column if isinstance(column, int) else None
