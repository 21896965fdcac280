"""Tensor sizes rounded up to a coarse grid, so that kernels see few distinct shapes.

oneDNN (the dense CPU LSTM, bf16 matrix products) builds a primitive for every input shape and
keeps it in two caches of 1,024 entries each (oneDNN's own and PyTorch's ``LRU_CACHE_CAPACITY``),
a few hundred kB per entry. Inference batches come in endless shapes (each chunk's last batch,
each batch's count of distinct spellings), so a long ``predict`` filled both caches and its
memory grew with its input; on the grid the caches hold a few hundred entries at most.
"""

from __future__ import annotations


def padded_size(size: int) -> int:
    """``size`` rounded up to the grid: exact below 32, then 16 steps per power of two, so the
    padding is under 1/16 of ``size``::

        1 2 … 31 32 34 36 … 62 64 68 72 … 124 128 136 144 …
    """
    step = 1 << max(0, size.bit_length() - 5)
    return -(-size // step) * step
