"""Which sentences go together, in plain Python: chunks of a stream and length-sorted inference
batches. Torch-free, so that an exported model's runtime (onnxruntime + numpy) plans its batches
as ``predict`` does."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

# The dense CPU LSTM keeps its gates for every step, batch × time × 4 × hidden_size floats: 205 MB
# for 256 pieces of 250 tokens at hidden size 200, the peak of tagging one 5 MB line. News text
# (256 × ~14 tokens) never reaches this cap.
MAX_BATCH_TOKENS = 16_384

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily from ``items``."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Inference batches: runs of the length-sorted sentences (the fastest order; callers restore
    input order from ``Batch.indices``).

    A batch holds at most ``batch_size`` sentences and at most ``batch_size`` × the mean length
    padded tokens. Without that cap, the batch of a corpus's longest sentences is padded to the
    very longest: on CoNLL-2003's test set 30 % of the BiLSTM's work at batch size 256 was padding,
    against 10 % with the cap (docs/benchmarks.md). It is also never more than
    :data:`MAX_BATCH_TOKENS` padded tokens.
    """
    budget = min(MAX_BATCH_TOKENS, batch_size * max(1.0, sum(lengths) / max(1, len(lengths))))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):  # stable: ties keep input order
        if current and (len(current) == batch_size or (len(current) + 1) * lengths[index] > budget):
            batches.append(current)
            current = []
        current.append(index)
    return batches + [current] if current else batches
