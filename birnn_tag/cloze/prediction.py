"""Fill in blanks: lines with one or more blank markers → ranked candidate words.

Each blank is predicted from the words on both sides of it; other blanks on the same line count
as unknown words. ``choices`` restricts the ranking to given candidates (scored by the model's
probability over the whole vocabulary, so the numbers compare across lines).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import torch

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.cloze.text import encode_words, tokenize_text
from birnn_tag.data.batch_plans import chunked
from birnn_tag.data.batching import iterate_batches
from birnn_tag.data.reading.conll import decode_lines
from birnn_tag.data.vocab import PAD, UNK, normalize_word
from birnn_tag.errors import BirnnTagError, DataError

MASK = "[MASK]"
INPUT_FORMATS = ("text", "jsonl")
OUTPUT_FORMATS = ("jsonl", "text")


@dataclass
class ClozeQuery:
    """One input line: its tokens, where the blanks are, optional choices, or why it can't be used."""

    line: int
    text: str
    tokens: list[str] = field(default_factory=list)
    blanks: list[int] = field(default_factory=list)
    choices: list[str] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A word for a blank and its probability (6 decimals; None for a given choice outside the
    vocabulary, which the model cannot score)."""

    word: str
    prob: float | None
    in_vocabulary: bool = True


@dataclass(frozen=True)
class Blank:
    """A blank's token ``position`` in the line and its ``candidates``, best first."""

    position: int
    candidates: list[Candidate]


@dataclass(frozen=True)
class Answer:
    """One input line (``line`` is its number) with its ``tokens`` and a :class:`Blank` per
    blank; ``choices`` are the words it was asked to rank (None: the whole vocabulary), and
    ``error`` says why a line could not be used (it then has no blanks)."""

    line: int
    text: str
    tokens: list[str]
    blanks: list[Blank]
    choices: list[str] | None = None
    error: str | None = None

    def filled(self, blank: str = "___") -> str:
        """The line with each blank marker replaced by its best candidate."""
        best = iter([b.candidates[0].word if b.candidates else blank for b in self.blanks])
        return re.sub(f"{re.escape(blank)}|{re.escape(MASK)}", lambda _: next(best, blank), self.text)

    def to_record(self, blank: str = "___") -> dict[str, Any]:
        """The answer as ``predict --format jsonl`` (and the service) writes it."""
        if self.error:
            return {"line": self.line, "text": self.text, "error": self.error}
        # Ranked choices say whether each word is in the vocabulary; top-k candidates always are.
        fields = ("word", "prob", "in_vocabulary") if self.choices is not None else ("word", "prob")
        return {
            "line": self.line,
            "text": self.text,
            "tokens": self.tokens,
            "blanks": [
                {"position": b.position, "candidates": [{f: getattr(c, f) for f in fields} for c in b.candidates]}
                for b in self.blanks
            ],
            "filled": self.filled(blank),
        }


def unique_choices(choices: Sequence[str], field: str) -> list[str]:
    """``choices`` once each, in first-seen order. A special token (``<pad>``, ``<unk>``) is not a
    word the model can propose, so ranking it would mislead: it is refused, naming ``field[index]``."""
    for index, choice in enumerate(choices):
        if choice.strip().lower() in (PAD, UNK):
            raise BirnnTagError(f"{field}[{index}]: {choice!r} is a special token, not a word; leave it out")
    return list(dict.fromkeys(choices))


def check_blank(blank: str) -> None:
    """Refuse a blank marker with nothing but spaces: an empty one would split every line between
    all of its characters, a space marks every gap between words."""
    if not blank.strip():
        raise BirnnTagError(f"--blank: {blank!r} cannot mark a blank; use a visible marker such as '___'")


def make_query(line: int, text: str, blank: str, tokenizer, choices: list[str] | None) -> ClozeQuery:
    """Tokenize a line around its blank markers (so no tokenizer can split a marker) and find the blanks."""
    tokens, blanks = [], []
    for index, piece in enumerate(re.split(f"{re.escape(blank)}|{re.escape(MASK)}", text)):
        if index:
            blanks.append(len(tokens))
            tokens.append(blank)
        tokens.extend(tokenizer(piece))
    query = ClozeQuery(line, text, tokens, blanks, choices)
    if not blanks:
        query.error = f"no blank ({blank!r} or {MASK!r}) in the line"
    elif len(blanks) == len(tokens):
        query.error = "every token is a blank: there is no context to fill it from"
    return query


def read_queries(
    handle: BinaryIO, name: str, input_format: str, blank: str, tokenizer, choices: list[str] | None,
    encoding: str = "utf-8", setting: str = "encoding",
) -> Iterator[ClozeQuery]:
    """Queries from text lines, or JSONL objects ``{"text": ..., "choices": [...]}``, in ``encoding``."""
    check_blank(blank)
    for number, line in decode_lines(handle, name, encoding, setting):
        if input_format == "text":
            yield make_query(number, line, blank, tokenizer, choices)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text, line_choices = record["text"], record.get("choices", choices)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise DataError(f"{name}:{number}: expected a JSON object with a 'text' field ({error})") from None
        if not isinstance(text, str):
            raise DataError(f"{name}:{number}: 'text' must be a string, got {text!r}")
        if line_choices is not None and not (
            isinstance(line_choices, list) and all(isinstance(c, str) for c in line_choices)
        ):
            raise DataError(f"{name}:{number}: 'choices' must be a list of strings, got {line_choices!r}")
        if line_choices is not None:
            try:
                line_choices = unique_choices(line_choices, "choices")
            except BirnnTagError as error:
                raise DataError(f"{name}:{number}: {error}") from None
        yield make_query(number, text, blank, tokenizer, line_choices)


def _rank(log_probs: torch.Tensor, query: ClozeQuery, loaded: LoadedModel, top_k: int) -> list[Candidate]:
    """Candidates for one blank from its (num_words,) log-probabilities."""
    words, encoding = loaded.vocabs.words, loaded.config.encoding
    probs = log_probs.float().exp()
    if query.choices is not None:
        ranked = []
        for choice in query.choices:
            key = normalize_word(choice, encoding)
            known = key in words
            ranked.append(Candidate(choice, round(probs[words.id(key)].item(), 6) if known else None, known))
        return sorted(ranked, key=lambda c: -1.0 if c.prob is None else c.prob, reverse=True)
    probs[: words.unk_id + 1] = 0.0  # never propose <pad> or <unk>
    best = probs.topk(min(top_k, len(words) - 2))
    return [Candidate(words.items[i], round(p, 6)) for p, i in zip(best.values.tolist(), best.indices.tolist())]


@torch.inference_mode()
def fill_blanks(
    loaded: LoadedModel,
    queries: Iterable[ClozeQuery],
    *,
    top_k: int = 10,
    batch_size: int = 64,
    chunk_size: int = 1024,
    device: torch.device = torch.device("cpu"),
) -> Iterator[Answer]:
    """Answer queries lazily, ``chunk_size`` at a time, in input order."""
    model, words = loaded.model, loaded.vocabs.words
    for chunk in chunked(queries, chunk_size):
        usable = [q for q in chunk if q.error is None]
        encoded = []
        for query in usable:
            sentence = encode_words(query.tokens, loaded.vocabs, loaded.config)
            sentence.words[query.blanks] = words.unk_id  # blanks are unknown words to the context
            encoded.append(sentence)
        answers: dict[int, list[Blank]] = {}
        for batch in iterate_batches(encoded, batch_size):
            mask = torch.zeros_like(batch.mask)
            for row, index in enumerate(batch.indices):
                mask[row, usable[index].blanks] = True
            batch = batch.to(device)
            log_probs = model.log_probs(batch.word_ids, batch.lengths, mask.to(device)).cpu()  # (blanks, words)
            position = 0
            for row, index in enumerate(batch.indices):  # mask order is row-major: row by row, left to right
                query = usable[index]
                answers[id(query)] = [
                    Blank(p, _rank(log_probs[position + j], query, loaded, top_k)) for j, p in enumerate(query.blanks)
                ]
                position += len(query.blanks)
        for query in chunk:
            blanks = answers.get(id(query), [])
            yield Answer(query.line, query.text, query.tokens, blanks, query.choices, query.error)


def format_answer(answer: Answer, output_format: str, blank: str) -> str:
    """One answer as a JSON line, or as the filled-in text line."""
    if output_format == "text":
        return (answer.text if answer.error else answer.filled(blank)) + "\n"
    return json.dumps(answer.to_record(blank), ensure_ascii=False) + "\n"


def tokenizer_for(loaded: LoadedModel):
    """The tokenizer the model was trained with, as a ``str → list[str]`` function."""
    return lambda text: tokenize_text(text, loaded.config.data)
