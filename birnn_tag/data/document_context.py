"""Document context: the tokens around a piece of text in its document, which the encoder reads
with the piece (only the piece's own tokens are tagged, scored and trained on).

Like FLERT (Schweter & Akbik, 2020) the context is a fixed number of tokens on each side, taken
across sentence boundaries but never across document boundaries, so a sentence keeps the same
context however its document's sentences are batched.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

#: A piece's context: the tokens before it and the tokens after it.
Context = tuple[list[str], list[str]]


def document_bounds(documents: Sequence[Hashable | None] | None, count: int) -> list[tuple[int, int]]:
    """For each of ``count`` texts, the rows ``first:last`` of its document: runs of equal
    ``documents`` values next to each other; a text whose value is None, and every text
    without ``documents``, is a document of its own."""
    if documents is None:
        return [(row, row + 1) for row in range(count)]
    bounds: list[tuple[int, int]] = []
    first = 0
    for row in range(1, count + 1):
        if row == count or documents[row] is None or documents[row] != documents[first]:
            bounds.extend([(first, row)] * (row - first))
            first = row
    return bounds


def piece_contexts(
    texts: Sequence[Sequence[str]],
    documents: Sequence[Hashable | None] | None,
    pieces: Sequence[tuple[int, int, int]],
    size: int,
) -> list[Context]:
    """The context of each piece ``(row, start, end)`` of ``texts``: up to ``size`` tokens before
    ``texts[row][start]`` and after ``texts[row][end - 1]`` in the same document (see
    :func:`document_bounds`); the rest of a long sentence counts as context of its pieces."""
    bounds = document_bounds(documents, len(texts))
    contexts = []
    for row, start, end in pieces:
        first, last = bounds[row]
        before = list(texts[row][max(0, start - size) : start])
        other = row - 1
        while len(before) < size and other >= first:
            before[:0] = texts[other][max(0, len(texts[other]) - (size - len(before))) :]
            other -= 1
        after = list(texts[row][end : end + size])
        other = row + 1
        while len(after) < size and other < last:
            after.extend(texts[other][: size - len(after)])
            other += 1
        contexts.append((before, after))
    return contexts


def spelling_keys(tokens: Sequence[str]) -> list[int]:
    """For each token, the position of the first of ``tokens`` spelled the same up to case: equal
    keys mark the occurrences of one word (``JAPAN`` in a headline and ``Japan`` in the text)."""
    first: dict[str, int] = {}
    return [first.setdefault(token.lower(), position) for position, token in enumerate(tokens)]
