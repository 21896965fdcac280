"""Output heads: map encoder features to tag scores, a training loss and decoded tags.

A head is a pluggable component with ``loss(features, tag_ids, mask)`` and
``decode(features, mask)``; the tagger never knows which one it has.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SoftmaxHead(nn.Module):
    """Independent per-token softmax over tags, trained with masked cross-entropy."""

    def __init__(self, input_dim: int, num_tags: int) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, num_tags)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (batch, time, input_dim) → tag logits (batch, time, num_tags)."""
        return self.projection(features)

    def loss(self, features: torch.Tensor, tag_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each sentence's tags, averaged over the sentences.

        Summing over a sentence's tokens (as a CRF's sentence NLL does) keeps the gradient scale,
        and so the learning rate, the same for both heads and independent of sentence length.
        """
        logits = self(features[mask])  # (tokens, num_tags): padding never reaches the loss
        return F.cross_entropy(logits, tag_ids[mask], reduction="sum") / mask.shape[0]

    def decode(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best tag per token and its probability, each (batch, time); padding positions are 0."""
        probabilities = self(features).softmax(dim=-1)
        confidence, tag_ids = probabilities.max(dim=-1)
        return tag_ids.masked_fill(~mask, 0), confidence.masked_fill(~mask, 0.0)
