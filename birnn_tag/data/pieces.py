"""Sentences longer than ``data.max_length`` are handled in pieces: where to cut them, and how
to join the pieces' results back into one row per sentence."""

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


def join_pieces(rows: Sequence[Sequence[Item]], pieces: Sequence[int]) -> list[list[Item]]:
    """Concatenate consecutive rows back into sentences: sentence ``i`` is the next
    ``pieces[i]`` rows (e.g. the predicted tags of its pieces)."""
    joined = []
    position = 0
    for count in pieces:
        joined.append([item for row in rows[position : position + count] for item in row])
        position += count
    return joined


def cut_tokens(tokens: Sequence[str], max_length: int) -> list[Sequence[str]]:
    """``tokens`` cut into consecutive pieces of at most ``max_length`` (see :func:`piece_bounds`)."""
    return [tokens[start:end] for start, end in piece_bounds(len(tokens), max_length)]
