"""A learned weighted sum of an encoder's layers (Peters et al. 2018), for contextual features."""

from __future__ import annotations

import torch
from torch import nn


class ScalarMix(nn.Module):
    """``gamma * sum_l softmax(w)_l * h_l`` over the layers of (batch, time, layers, dim) features.

    The weights start equal and the scale at 1. Features may come cached in fp16; the mix runs
    in the tagger's precision.
    """

    def __init__(self, num_layers: int, dim: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))
        self.gamma = nn.Parameter(torch.ones(()))
        self.output_dim = dim

    def forward(self, layers: torch.Tensor) -> torch.Tensor:
        """(batch, time, layers, dim) → (batch, time, dim)."""
        weights = self.weights.softmax(dim=0)
        return self.gamma * torch.einsum("btld,l->btd", layers.to(weights.dtype), weights)
