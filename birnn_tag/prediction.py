"""Streaming prediction: read sentences lazily, tag them in batches, write results in input order.

Memory stays flat on any input size: sentences are read ``chunk_size`` at a time, each chunk is
encoded and decoded in groups of at most :data:`GROUP_TOKENS` tokens (in length-sorted batches),
written, and dropped.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import torch

from birnn_tag.checkpoint import LoadedModel
from birnn_tag.data import schemes
from birnn_tag.data.conll import ColumnFormat, decode_lines, iter_conll
from birnn_tag.data.encoding import TokenEncoder
from birnn_tag.data.tokenize import tokenize, whitespace_tokenize
from birnn_tag.inference import decode_sentences

INPUT_FORMATS = ("text", "pretokenized", "conll")
OUTPUT_FORMATS = ("conll", "jsonl")
# Tokens encoded and tagged together: a chunk of 4,096 news sentences (~57k tokens) is one group,
# while one 5 MB line (a million tokens) is tagged a group at a time; encoded all at once it held
# ~190 MB of id tensors.
GROUP_TOKENS = 65_536


@dataclass
class InputSentence:
    """A sentence to tag: its text, tokens and each token's ``(start, end)`` offsets in the text."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> InputSentence:
        """A pre-tokenized sentence; its text is the tokens joined by single spaces."""
        offsets, position = [], 0
        for token in tokens:
            offsets.append((position, position + len(token)))
            position += len(token) + 1
        return cls(" ".join(tokens), tokens, offsets)


@dataclass
class Prediction:
    """Tags and (when asked for) per-token confidences for one input sentence; entity spans on demand."""

    sentence: InputSentence
    tags: list[str]
    confidences: list[float] | None
    scheme: str

    @functools.cached_property
    def spans(self) -> list[dict]:
        """Entity spans with character offsets, type and confidence (see :func:`_spans`)."""
        return _spans(self.sentence, self.tags, self.confidences, self.scheme)


def read_inputs(handle: BinaryIO, name: str, input_format: str, token_column: int = 0) -> Iterator[InputSentence]:
    """Sentences from a stream: ``text`` (one per line, tokenized), ``pretokenized``
    (whitespace-separated tokens, one sentence per line) or ``conll`` (token column, blank-line breaks).

    Blank lines in line-based input give empty sentences, so output lines stay aligned with input.
    """
    lines = decode_lines(handle, name)
    if input_format == "conll":
        columns = ColumnFormat(token_column=token_column, tag_column=None)
        for sentence in iter_conll(lines, name, columns):
            yield InputSentence.from_tokens(sentence.tokens)
        return
    split = tokenize if input_format == "text" else whitespace_tokenize
    for _, line in lines:
        tokens, offsets = split(line)
        yield InputSentence(line, tokens, offsets)


def _pieces(tokens: list[str], max_length: int) -> list[list[str]]:
    return [tokens[start : start + max_length] for start in range(0, len(tokens), max_length)]


def _groups(pieces: list[list[str]], max_tokens: int) -> Iterator[list[list[str]]]:
    """Consecutive runs of ``pieces`` with at most ``max_tokens`` tokens together (or one piece)."""
    group: list[list[str]] = []
    tokens = 0
    for piece in pieces:
        if group and tokens + len(piece) > max_tokens:
            yield group
            group, tokens = [], 0
        group.append(piece)
        tokens += len(piece)
    if group:
        yield group


def _spans(sentence: InputSentence, tags: list[str], confidences: list[float] | None, scheme: str) -> list[dict]:
    spans = []
    for kind, start, end in schemes.to_spans(tags, scheme):
        char_start, char_end = sentence.offsets[start][0], sentence.offsets[end - 1][1]
        span = {
            "type": kind,
            "start": char_start,
            "end": char_end,
            "text": sentence.text[char_start:char_end],
            "token_start": start,
            "token_end": end,
        }
        if confidences is not None:
            # Product of the tokens' confidences (softmax probabilities or CRF marginals).
            span["confidence"] = round(math.prod(confidences[start:end]), 4)
        spans.append(span)
    return spans


def predict_stream(
    loaded: LoadedModel,
    inputs: Iterable[InputSentence],
    *,
    batch_size: int = 256,
    chunk_size: int = 4096,
    device: torch.device = torch.device("cpu"),
    confidences: bool = True,
    precision: str | None = None,
) -> Iterator[Prediction]:
    """Tag ``inputs`` lazily; sentences longer than ``data.max_length`` are tagged in pieces.

    ``precision`` (one of :data:`~birnn_tag.precision.PRECISIONS`) defaults to the run's
    ``training.eval_precision``.

    Without ``confidences`` the predictions carry none (``None``); CRF models then skip the
    forward-backward pass that computes them.
    """
    config, vocabs = loaded.config, loaded.vocabs
    precision = precision or config.training.eval_precision
    encode = TokenEncoder(vocabs, config.encoding)
    iterator = iter(inputs)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        pieces: list[list[str]] = []
        counts = []  # pieces per sentence
        for sentence in chunk:
            parts = _pieces(sentence.tokens, config.data.max_length)
            counts.append(len(parts))
            pieces.extend(parts)
        tag_ids: list[list[int]] = []
        chunk_scores: list[list[float]] | None = [] if confidences else None
        for group in _groups(pieces, GROUP_TOKENS):
            encoded = encode.encode_sentences(group)
            ids, scores = decode_sentences(loaded.model, encoded, batch_size, device, confidences, precision)
            tag_ids += ids
            if chunk_scores is not None:
                chunk_scores += scores
        position = 0
        for sentence, count in zip(chunk, counts):
            ids = [i for row in tag_ids[position : position + count] for i in row]
            scores = None if chunk_scores is None else [c for row in chunk_scores[position : position + count] for c in row]
            position += count
            tags = [vocabs.labels.items[i] for i in ids]
            yield Prediction(sentence, tags, scores, config.data.scheme)


def format_prediction(prediction: Prediction, output_format: str) -> str:
    """One prediction as text: CoNLL ``token<TAB>tag`` lines plus a blank line, or one JSON line
    (with confidences when the prediction has them)."""
    if output_format == "conll":
        rows = "".join(f"{token}\t{tag}\n" for token, tag in zip(prediction.sentence.tokens, prediction.tags))
        return rows + "\n"
    record = {"text": prediction.sentence.text, "tokens": prediction.sentence.tokens, "tags": prediction.tags}
    if prediction.confidences is not None:
        record["confidences"] = [round(c, 4) for c in prediction.confidences]
    record["spans"] = prediction.spans
    return json.dumps(record, ensure_ascii=False) + "\n"
