"""Sentences longer than ``data.max_length`` are handled in parts: pieces that do not overlap
(training cuts between entities), overlapping windows (tagging and scoring), and how the parts'
results are joined back into one row per sentence."""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def piece_bounds(length: int, max_length: int, avoid: Container[int] = ()) -> list[tuple[int, int]]:
    """``(start, end)`` (end exclusive) of the consecutive pieces, each at most ``max_length``
    tokens, that a sequence of ``length`` tokens is cut into.

    A cut at ``p`` falls just before token ``p``. Each cut is made at the last position up to the
    limit that is not in ``avoid`` (e.g. a position inside an entity); only when every position
    after the piece's start is avoided is the cut made at the limit itself::

        token   0     1     2 3     4     5     6    max_length 4, avoid {1, 4, 5}
        tag     B-PER I-PER O B-LOC I-LOC I-LOC O
                              ^ the limit, 4, would split B-LOC..I-LOC: cut at 3
        pieces  (0, 3), (3, 7)
    """
    bounds = []
    start = 0
    while start < length:
        end = min(start + max_length, length)
        if end < length:
            end = next((cut for cut in range(end, start, -1) if cut not in avoid), end)
        bounds.append((start, end))
        start = end
    return bounds


def window_bounds(length: int, max_length: int) -> list[tuple[int, int]]:
    """Where a sequence of ``length`` tokens is tagged: whole when it fits in ``max_length``, else
    in windows of ``max_length`` tokens that overlap by half (the last one ends with the
    sequence), so that every token has a window where it sits at least a quarter window from an
    edge, with context on both sides (see :func:`join_windows`)::

        max_length 4, 7 tokens: (0, 4), (2, 6), (3, 7)
    """
    if length <= max_length:
        return [(0, length)] if length else []
    stride = max(1, max_length // 2)
    starts = list(range(0, length - max_length, stride)) + [length - max_length]
    return [(start, start + max_length) for start in starts]


def join_windows(rows: Sequence[Sequence[Item]], bounds: Sequence[Sequence[tuple[int, int]]]) -> list[list[Item]]:
    """Each sequence's items from its windows' rows: sequence ``i`` has ``len(bounds[i])``
    consecutive rows, row ``j`` covering tokens ``bounds[i][j]``, and each token takes its item
    from the window where it is farthest from an edge (the first such window on a tie). Pieces
    that do not overlap (:func:`piece_bounds`) are simply concatenated."""
    joined = []
    position = 0
    for windows in bounds:
        if len(windows) < 2:  # the common case, a sentence that fits (or an empty one)
            joined.append([item for row in rows[position : position + len(windows)] for item in row])
            position += len(windows)
            continue
        length = windows[-1][1]
        items: list = [None] * length
        margins = [-1] * length
        for (start, end), row in zip(windows, rows[position : position + len(windows)]):
            for token in range(start, end):
                margin = min(token - start, end - 1 - token)
                if margin > margins[token]:
                    items[token], margins[token] = row[token - start], margin
        joined.append(items)
        position += len(windows)
    return joined


def cut_tokens(tokens: Sequence[str], max_length: int) -> list[Sequence[str]]:
    """``tokens`` cut into consecutive pieces of at most ``max_length`` (see :func:`piece_bounds`)."""
    return [tokens[start:end] for start, end in piece_bounds(len(tokens), max_length)]
