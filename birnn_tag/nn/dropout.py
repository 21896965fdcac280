"""Inverted dropout that is fast on CPU.

``nn.Dropout`` draws its mask with ``bernoulli_``, which on CPU is several times slower than a
uniform draw and a comparison (docs/benchmarks.md); on CUDA its fused kernel is faster, so it is used there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Dropout(nn.Module):
    """Zero each element with probability ``p`` while training and scale the rest by 1 / (1 - p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return inputs
        if inputs.is_cuda:
            return F.dropout(inputs, self.p, training=True)
        keep = torch.rand_like(inputs) >= self.p  # same distribution as bernoulli(1 - p)
        return inputs * keep / (1.0 - self.p)
