"""Tensor sizes rounded up to a coarse grid, so that kernels see few distinct shapes.

oneDNN (the dense CPU LSTM, bf16 matrix products) builds a primitive for every input shape and
keeps it in two caches of 1,024 entries each (oneDNN's own and PyTorch's ``LRU_CACHE_CAPACITY``),
a few hundred kB per entry. Inference batches come in endless shapes (each chunk's last batch,
each batch's count of distinct spellings), so a long ``predict`` filled both caches and its
memory grew with its input; on the grid the caches hold a few hundred entries at most.
"""

from __future__ import annotations

import torch


def padded_size(size: int) -> int:
    """``size`` rounded up to the grid: exact below 32, then 16 steps per power of two, so the
    padding is under 1/16 of ``size``::

        1 2 … 31 32 34 36 … 62 64 68 72 … 124 128 136 144 …
    """
    step = 1 << max(0, size.bit_length() - 5)
    return -(-size // step) * step


def pad_to_grid(tensor: torch.Tensor, *dims: int) -> torch.Tensor:
    """``tensor`` with each of ``dims`` zero-padded at its end up to :func:`padded_size`; the
    tensor itself, not a copy, when those sizes are on the grid already."""
    sizes = list(tensor.shape)
    for dim in dims:
        sizes[dim] = padded_size(sizes[dim])
    if sizes == list(tensor.shape):
        return tensor
    padded = tensor.new_zeros(sizes)
    padded[tuple(slice(0, size) for size in tensor.shape)] = tensor
    return padded
