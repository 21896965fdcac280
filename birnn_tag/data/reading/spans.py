"""Character-span files as annotation tools export them, read into tokens and IOB2 tags.

- ``doccano``: JSON lines ``{"text": ..., "label": [[start, end, "TYPE"], ...]}`` (or the newer
  ``"entities": [{"start_offset", "end_offset", "label"}]``);
- ``label-studio``: Label Studio's JSON export, a list of tasks ``{"data": {"text": ...},
  "annotations": [{"result": [{"value": {"start", "end", "labels": [...]}}]}]}`` (the first
  annotation that was not cancelled; a task with none reads its ``predictions``, so a
  pre-annotation file written by ``predict --format label-studio`` reads back), or one task per line;
- ``prodigy``: JSON lines ``{"text": ..., "spans": [{"start", "end", "label"}], "answer": ...}``
  (spaCy's form too; rejected and ignored answers are left out).

The text is split by the run's tokenizer (``data.tokenizer``) and each span must start and end on
token boundaries; ``data.misaligned_spans`` says what to do with one that does not, with spans
that overlap and with spans outside the text: ``error`` (the default: one line naming the record,
the span and the text around it), ``expand`` (a misaligned span grows to the tokens it touches)
or ``skip`` (left out); how many were expanded or skipped is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from birnn_tag.config import DataConfig
from birnn_tag.data.reading.conll import decode_lines
from birnn_tag.data.reading.tokenize import tokenizer_for
from birnn_tag.errors import DataError, short_repr

logger = logging.getLogger(__name__)

SPAN_FORMATS = ("doccano", "label-studio", "prodigy")
Span = tuple[int, int, str]


@dataclass(frozen=True)
class Record:
    """One annotated text: where it is (``line``: the line it starts on), its text and spans."""

    line: int
    text: str
    spans: list[Span]


def span_format_of(path: Path, encoding: str) -> str | None:
    """Which of :data:`SPAN_FORMATS` a ``.json``/``.jsonl`` file is in, from its first record;
    None for a table of tokens and tags."""
    try:
        _, first = next(_json_values(_text(path, encoding), str(path)), (0, None))
    except DataError:
        return None  # not JSON as a whole: read as a table, whose reader says what is wrong
    return _kind(first) if isinstance(first, dict) else None


def _text(path: Path, encoding: str) -> str:
    with path.open("rb") as handle:
        return "\n".join(line for _, line in decode_lines(handle, str(path), encoding))


def _kind(record: dict[str, Any]) -> str | None:
    if "tokens" in record:
        return None
    if "annotations" in record or "predictions" in record or isinstance(record.get("data"), dict):
        return "label-studio"
    if "spans" in record:
        return "prodigy"
    if "label" in record or "entities" in record:
        return "doccano"
    return None


def read_span_file(path: Path, kind: str, config: DataConfig, with_tags: bool = True) -> dict[str, list]:
    """The file's texts as columns ``tokens``, ``tags`` (IOB2; unless not ``with_tags``) and
    ``line``, the spans aligned to the tokens of ``data.tokenizer``."""
    columns: dict[str, list] = {"tokens": [], "line": []} | ({"tags": []} if with_tags else {})
    expanded = skipped = 0
    for record, tokens, tags, problems in _aligned(path, kind, config):
        columns["tokens"].append(tokens)
        columns["line"].append(record.line)
        if with_tags:
            if problems and config.misaligned_spans == "error":
                raise DataError(f"{problems[0]} (set data.misaligned_spans: expand or skip)")
            columns["tags"].append(tags.tags)
            expanded, skipped = expanded + tags.expanded, skipped + len(problems)
    for what, count in (("expanded", expanded), ("skipped", skipped)):
        if count:
            logger.warning("%s: %s %d span(s) (data.misaligned_spans: %s)", path, what, count, config.misaligned_spans)
    return columns


def span_problems(path: Path, kind: str, config: DataConfig) -> list[str]:
    """Every span of the file that ``train`` would refuse under ``data.misaligned_spans: error``
    (one ``file:line: span ...`` line each): off token boundaries (unless the policy expands
    them), overlapping another, outside the text."""
    return [problem for *_, problems in _aligned(path, kind, config) for problem in problems]


def _aligned(path: Path, kind: str, config: DataConfig) -> Iterator[tuple[Record, list[str], _Tags, list[str]]]:
    """Each record with text, its tokens, their tags and the spans left out, as messages."""
    tokenize = tokenizer_for(config.tokenizer)
    for record in _records(path, kind, config.encoding):
        tokens, offsets = tokenize(record.text)
        if tokens:
            problems: list[str] = []
            tags = _tags(record, offsets, config.misaligned_spans == "expand", f"{path}:{record.line}", problems)
            yield record, tokens, tags, problems


def _records(path: Path, kind: str, encoding: str) -> Iterator[Record]:
    for line, value in _json_values(_text(path, encoding), str(path)):
        if not isinstance(value, dict):
            raise DataError(f"{path}:{line}: expected a JSON object, got {short_repr(value)}")
        record = _record(value, kind, f"{path}:{line}")
        if record is not None:
            yield Record(line, *record)


def _json_values(text: str, name: str) -> Iterator[tuple[int, Any]]:
    """The JSON values of a file of JSON lines or of one JSON list, each with its first line."""
    decoder = json.JSONDecoder()
    position, inside_list = 0, text.lstrip().startswith("[")
    if inside_list:
        position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or (inside_list and text[position] == "]"):
            return
        line = text.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError as error:
            raise DataError(f"{name}:{line}: not valid JSON ({error.msg})") from None
        yield line, value


def _record(value: dict[str, Any], kind: str, where: str) -> tuple[str, list[Span]] | None:
    """A record's text and spans, in any of the formats; None for a record to leave out."""
    if kind == "label-studio":
        text = (value.get("data") or {}).get("text") if isinstance(value.get("data"), dict) else None
        done = [a for a in value.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        results = (done or value.get("predictions") or [{}])[0].get("result") or []
        spans = [
            (item["value"]["start"], item["value"]["end"], label)
            for item in results if isinstance(item, dict) and isinstance(item.get("value"), dict) and "start" in item["value"]
            for label in item["value"].get("labels", [])[:1]
        ]
    elif kind == "prodigy":
        if value.get("answer", "accept") != "accept":
            return None
        text = value.get("text")
        spans = [(span.get("start"), span.get("end"), span.get("label")) for span in value.get("spans") or []]
    else:
        text = value.get("text")
        if "entities" in value:
            spans = [(e.get("start_offset"), e.get("end_offset"), e.get("label")) for e in value["entities"] or []]
        else:
            spans = [tuple(item) for item in value.get("label") or []]
    if not isinstance(text, str):
        raise DataError(f"{where}: no text (a {kind} record has its text in {'data.text' if kind == 'label-studio' else 'text'})")
    for span in spans:
        if len(span) != 3 or not all(isinstance(x, int) for x in span[:2]) or not isinstance(span[2], str) or not span[2].strip():
            raise DataError(f"{where}: span {short_repr(list(span))}: expected a start, an end and a label")
    return text, sorted(spans, key=lambda span: (span[0], -span[1]))


@dataclass(frozen=True)
class _Tags:
    tags: list[str]
    expanded: int


def _tags(record: Record, offsets: list[tuple[int, int]], expand: bool, where: str, problems: list[str]) -> _Tags:
    """IOB2 tags of a record's tokens from its spans; a span that cannot be placed is left out
    and described in ``problems``."""
    tags = ["O"] * len(offsets)
    starts = {start for start, _ in offsets}
    ends = {end for _, end in offsets}
    expanded = 0
    for start, end, label in record.spans:
        inside = 0 <= start < end <= len(record.text)
        touched = [i for i, (s, e) in enumerate(offsets) if s < end and e > start] if inside else []
        aligned = start in starts and end in ends
        if not inside:
            problem = f"is outside the text (of {len(record.text)} characters)"
        elif not touched:
            problem = "covers no token"
        elif any(tags[i] != "O" for i in touched):
            problem = "overlaps another span"
        elif not aligned and not expand:
            problem = "does not fall on token boundaries"
        else:
            problem = None
        if problem is not None:
            problems.append(f"{where}: span {start}-{end} {label!r} {problem}: {_around(record.text, start, end)}")
            continue
        expanded += not aligned
        tags[touched[0]] = f"B-{label}"
        for index in touched[1:]:
            tags[index] = f"I-{label}"
    return _Tags(tags, expanded)


def _around(text: str, start: int, end: int) -> str:
    """The span in brackets with up to 20 characters either side, for messages."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    return repr(f"{text[max(0, start - 20):start]}[{text[start:end]}]{text[end:end + 20]}")
