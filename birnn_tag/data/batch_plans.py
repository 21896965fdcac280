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
# A GPU keeps its cores busy only with far larger batches (thousands of news sentences), and its
# memory holds them: the padded-token cap of a batch tagged there. A stream is encoded in groups
# of as many tokens (tagging's GROUP_TOKENS), so one group is one batch.
DEVICE_BATCH_TOKENS = 65_536

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily from ``items``."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def batch_token_cap(device_type: str) -> int:
    """The padded tokens an inference batch holds at most on a device of ``device_type``
    (``"cpu"``, ``"cuda"``, …): :data:`MAX_BATCH_TOKENS` on the CPU, :data:`DEVICE_BATCH_TOKENS`
    on an accelerator."""
    return MAX_BATCH_TOKENS if device_type == "cpu" else DEVICE_BATCH_TOKENS


def sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int = MAX_BATCH_TOKENS) -> list[list[int]]:
    """Inference batches: runs of the length-sorted sentences (the fastest order; callers restore
    input order from ``Batch.indices``).

    A batch holds at most ``batch_size`` sentences and at most ``batch_size`` × the mean length
    padded tokens. Without that cap, the batch of a corpus's longest sentences is padded to the
    very longest: on CoNLL-2003's test set 30 % of the BiLSTM's work at batch size 256 was padding,
    against 10 % with the cap (docs/benchmarks.md). It is also never more than ``max_tokens``
    padded tokens (:func:`batch_token_cap`; a longer sentence is a batch of its own).
    """
    budget = min(max_tokens, batch_size * max(1.0, sum(lengths) / max(1, len(lengths))))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):  # stable: ties keep input order
        if current and (len(current) == batch_size or (len(current) + 1) * lengths[index] > budget):
            batches.append(current)
            current = []
        current.append(index)
    return batches + [current] if current else batches
