"""Tag schemes: detect IOB1 / IOB2 / BIOES (or labels without spans), convert between them through
entity spans.

Span schemes mark entities (or chunks) with prefixed tags; :data:`NO_SPANS` ("none") takes every
tag as a label of its own token, as part-of-speech tags are. Spans are ``(type, start, end)`` with ``end`` exclusive. Conversion reads the source tags into
spans (repairing the usual mistakes the way conlleval does: an ``I-X`` that cannot continue the
previous entity starts a new one) and writes the spans back in the target scheme. Prefixes are
read in either case (``b-per``, ``o``) and written in upper case; the type is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

SCHEMES = ("IOB1", "IOB2", "BIOES")
TRAINING_SCHEMES = ("IOB2", "BIOES")  # the span schemes a tagger is trained and decodes in
NO_SPANS = "none"  # tags are labels as they are; nothing to convert, constrain or read spans from
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}
_TAG = re.compile(r"^([BIES])-(.*)$", re.IGNORECASE)  # an empty type is matched, to be named

Span = tuple[str, int, int]


def split_tag(tag: str) -> tuple[str, str | None]:
    """``'B-PER'`` → ``('B', 'PER')``, ``'b-per'`` → ``('B', 'per')``; ``'O'`` or ``'o'`` →
    ``('O', None)``. Raises ValueError otherwise."""
    if is_outside(tag):
        return "O", None
    match = _TAG.match(tag)
    if not match:
        raise ValueError(f"invalid tag {tag!r}: expected 'O' or a prefix B-, I-, E-, S- and a type")
    if not match.group(2):
        raise ValueError(f"invalid tag {tag!r}: the type after {match.group(1)}- is empty")
    return match.group(1).upper(), match.group(2)


def is_outside(tag: str) -> bool:
    """Whether ``tag`` is the outside tag, ``O`` (or ``o``)."""
    return tag in ("O", "o")


def check_tag(tag: str, scheme: str) -> None:
    """Raise ValueError if ``tag`` is malformed or uses a prefix the scheme does not have."""
    prefix, _ = split_tag(tag)
    if prefix != "O" and prefix not in _PREFIXES[scheme]:
        raise ValueError(f"invalid tag {tag!r} for scheme {scheme}: expected O or {'/'.join(_PREFIXES[scheme])}-TYPE")


def has_prefix(tag: str) -> bool:
    """Whether ``tag`` marks part of a span (``B-PER``, ``i-np``, ``B-`` whose type is missing...);
    ``O`` and ``NOUN`` do not."""
    return _TAG.match(tag) is not None


def first_of_each_kind(sentences: Iterable[Sequence[str]]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """``(row, position)`` of the first tag with a span prefix and of the first tag that is
    neither ``O`` nor prefixed (a plain label such as ``DET``); None for a kind that is absent."""
    prefixed = plain = None
    for row, tags in enumerate(sentences):
        for position, tag in enumerate(tags):
            if prefixed is None and has_prefix(tag):
                prefixed = (row, position)
            elif plain is None and not is_outside(tag) and not has_prefix(tag):
                plain = (row, position)
        if prefixed is not None and plain is not None:
            break
    return prefixed, plain


def first_malformed(sentences: Iterable[Sequence[str]]) -> tuple[int, int, str] | None:
    """``(row, position, why)`` of the first tag that is neither ``O`` nor a prefix and a type, or None."""
    for row, tags in enumerate(sentences):
        for position, tag in enumerate(tags):
            try:
                split_tag(tag)
            except ValueError as error:
                return row, position, str(error)
    return None


def label_kinds(rows: Iterable[Sequence[str]], scheme: str) -> set[str]:
    """What a model can get right or wrong in tag rows of ``scheme``: the labels themselves for
    ``none``, the entity types of span schemes."""
    if scheme == NO_SPANS:
        return {tag for tags in rows for tag in tags}
    return {kind for tags in rows for tag in tags for _, kind in [split_tag(tag)] if kind is not None}


def detect_scheme(sentences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a corpus.

    E-/S- → BIOES. IOB1 opens entities with I- and uses B- only right after an entity of the same
    type; a B- anywhere else means IOB2 (whose stray ``O I-X`` are then invalid transitions).
    """
    opens_with_inside = begins_freely = False
    for tags in sentences:
        previous_type = None
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix in "ES":
                return "BIOES"
            if prefix == "I" and kind != previous_type:
                opens_with_inside = True
            if prefix == "B" and kind != previous_type:
                begins_freely = True
            previous_type = kind
    return "IOB1" if opens_with_inside and not begins_freely else "IOB2"


def to_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """Read entity spans from ``tags`` written in ``scheme``, repairing invalid transitions."""
    spans: list[Span] = []
    start, current = 0, None
    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        begins = prefix in "BS" or (prefix in "IE" and kind != current)
        if scheme == "IOB1" and prefix == "B":
            begins = True
        if current is not None and (prefix == "O" or begins):
            spans.append((current, start, position))
            current = None
        if begins:
            start, current = position, kind
        if current is not None and prefix in "ES":
            spans.append((current, start, position + 1))
            current = None
    if current is not None:
        spans.append((current, start, len(tags)))
    return spans


def from_spans(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Write ``spans`` as ``length`` tags in ``scheme`` (IOB1 uses B- only between same-type neighbours)."""
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for kind, start, end in sorted(spans, key=lambda span: span[1]):
        for position in range(start, end):
            tags[position] = f"I-{kind}"
        if scheme == "IOB2":
            tags[start] = f"B-{kind}"
        elif scheme == "IOB1":
            if previous_end == start and previous_type == kind:
                tags[start] = f"B-{kind}"
        elif end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            tags[start], tags[end - 1] = f"B-{kind}", f"E-{kind}"
        previous_end, previous_type = end, kind
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Convert one sentence's tags from ``source`` to ``target`` scheme."""
    return from_spans(to_spans(tags, source), len(tags), target)


def first_invalid(tags: Sequence[str], scheme: str) -> int | None:
    """Position of the first tag that the scheme forbids after its predecessor, or None.

    A sequence is valid exactly when writing its spans back reproduces it (up to the prefixes'
    case). Every IOB1 sequence reads unambiguously, so IOB1 has no invalid transitions.
    """
    if scheme == "IOB1":
        return None
    rewritten = convert(tags, scheme, scheme)
    for position, (tag, fixed) in enumerate(zip(tags, rewritten)):
        if split_tag(tag) != split_tag(fixed):
            return position
    return None


def seqeval_scheme(scheme: str) -> str:
    """seqeval's name for a training scheme (``IOB2`` / ``IOBES``)."""
    return {"IOB2": "IOB2", "BIOES": "IOBES"}[scheme]
