"""Documents: a paragraph or a whole document per input, split into sentences, tagged sentence by
sentence (as a tagger trained on sentences reads best), and answered as one prediction whose
offsets index the document.

Sentences are found by spaCy's rule-based ``sentencizer`` (the ``[spacy]`` extra) over the
document's own tokens, so the run's tokenizer decides the tokens and a pre-tokenized document
keeps its own: it needs no model download, works for any language (it splits after sentence-final
punctuation, closing quotes and brackets kept with their sentence) and is maintained with spaCy.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from birnn_tag.data.reading.tokenize import Tokenizer, whitespace_tokenize
from birnn_tag.errors import BirnnTagError
from birnn_tag.tagging.prediction.streaming import InputSentence, Prediction


@dataclass(frozen=True)
class InputDocument:
    """A document to tag: its text, tokens and each token's ``(start, end)`` offsets in the text."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]

    def sentences(self, document: Hashable | None = None) -> list[InputSentence]:
        """The document's sentences, each with the document's text and offsets into it and
        ``document`` as the document they are part of (an empty document is one empty sentence,
        so that it still gets its prediction)."""
        if not self.tokens:
            return [InputSentence(self.text, [], [], document)]
        return [
            InputSentence(self.text, self.tokens[start:end], self.offsets[start:end], document)
            for start, end in sentence_bounds(self.text, self.tokens, self.offsets)
        ]


def input_document(text: str, pretokenized: bool, tokenizer: Tokenizer) -> InputDocument:
    """``text`` as a document, split by ``tokenizer`` (on whitespace when ``pretokenized``)."""
    tokens, offsets = (whitespace_tokenize if pretokenized else tokenizer)(text)
    return InputDocument(text, tokens, offsets)


def document_text(line: str) -> str:
    """A line of ``documents`` input: the document, or the ``text`` of a JSON object on the line
    (``{"text": ...}``, the JSONL form)."""
    if line.lstrip().startswith("{"):
        try:
            record: Any = json.loads(line)
        except ValueError:
            return line
        if isinstance(record, dict) and isinstance(record.get("text"), str):
            return record["text"]
    return line


def sentence_bounds(text: str, tokens: list[str], offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(start, end)`` token ranges of the sentences of a document's tokens: a line break in
    ``text`` always ends one (headlines, datelines and table rows end without punctuation),
    the sentencizer finds the others."""
    from spacy.tokens import Doc

    vocab, sentencizer = _sentencizer()
    gaps = [text[current[1] : following[0]] for current, following in zip(offsets, offsets[1:])]
    doc = Doc(vocab, words=tokens, spaces=[bool(gap) for gap in gaps] + [False])
    for token, gap in zip(doc[1:], gaps):
        if "\n" in gap:
            token.is_sent_start = True  # kept: the sentencizer only decides the tokens left open
    doc = sentencizer(doc)
    return [(sentence.start, sentence.end) for sentence in doc.sents]


@functools.cache
def _sentencizer() -> tuple[Any, Callable]:
    try:
        import spacy
    except ImportError:
        raise BirnnTagError("documents are split into sentences by spaCy: pip install 'birnn-tag[spacy]'") from None
    nlp = spacy.blank("xx")  # language-independent: the sentencizer only reads punctuation
    return nlp.vocab, nlp.add_pipe("sentencizer")


def tag_documents(
    tag: Callable[[Iterable[InputSentence]], Iterator[Prediction]], items: Iterable[InputSentence | InputDocument]
) -> Iterator[Prediction]:
    """Predictions for sentences and documents, in input order: ``tag`` tags sentences lazily;
    a document's sentences (marked as one document, numbered by position in ``items``) are
    tagged with the rest and joined into one prediction."""
    pending: deque[tuple[InputDocument | None, int]] = deque()  # each item, as ``tag`` reads it

    def sentences() -> Iterator[InputSentence]:
        for number, item in enumerate(items):
            if isinstance(item, InputDocument):
                parts = item.sentences(("input document", number))
                pending.append((item, len(parts)))
                yield from parts
            else:
                pending.append((None, 1))
                yield item

    predictions = tag(sentences())
    for first in predictions:  # ``tag`` has read the items of this prediction, so pending has them
        document, count = pending.popleft()
        if document is None:
            yield first
            continue
        parts = [first, *(next(predictions) for _ in range(count - 1))]
        yield _joined(document, parts)


def _joined(document: InputDocument, parts: list[Prediction]) -> Prediction:
    """One prediction for a document from its sentences'."""
    if any(part.k_best is not None for part in parts):
        raise BirnnTagError("k_best: lists the sequences of a sentence; documents have none")
    confidences = None if any(part.confidences is None for part in parts) else [c for part in parts for c in part.confidences]
    tags = [tag for part in parts for tag in part.tags]
    return Prediction(document.text, document.tokens, document.offsets, tags, confidences, parts[0].scheme)
