"""Token representations: a word embedding concatenated with an optional character encoder."""

from __future__ import annotations

import torch
from torch import nn


class CharCNN(nn.Module):
    """Character CNN (Ma & Hovy 2016): embed characters, convolve, max-pool over each word.

    Positions past a word's end are masked out of the max, so a word's vector never depends on
    how long the other words in the batch are.
    """

    def __init__(self, num_chars: int, char_dim: int, num_filters: int, kernel_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, num_filters, kernel_size, padding=kernel_size // 2)
        self.output_dim = num_filters

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (batch, time, chars) → (batch, time, num_filters)."""
        batch, time, width = char_ids.shape
        flat = char_ids.reshape(batch * time, width)  # (words, chars)
        embedded = self.embedding(flat).transpose(1, 2)  # (words, char_dim, chars)
        features = self.conv(embedded)[:, :, :width]  # (words, filters, chars); even kernels add one
        features = features.masked_fill((flat == 0)[:, None, :], float("-inf"))
        pooled = features.max(dim=2).values  # (words, filters)
        # Padding words have no characters at all: give them zeros, not -inf.
        pooled = pooled.masked_fill(torch.isinf(pooled), 0.0)
        return pooled.view(batch, time, -1)


class TokenEmbedder(nn.Module):
    """Word embedding ⊕ optional character features, followed by dropout."""

    def __init__(self, num_words: int, word_dim: int, chars: CharCNN | None, dropout: float) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, word_dim, padding_idx=0)
        self.chars = chars
        self.dropout = nn.Dropout(dropout)
        self.output_dim = word_dim + (chars.output_dim if chars is not None else 0)

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor) -> torch.Tensor:
        """(batch, time) word ids and (batch, time, chars) char ids → (batch, time, output_dim)."""
        features = self.words(word_ids)
        if self.chars is not None:
            features = torch.cat([features, self.chars(char_ids)], dim=-1)
        return self.dropout(features)
