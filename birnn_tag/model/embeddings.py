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
        """char_ids (words, chars), 0-padded, every word non-empty → (words, num_filters)."""
        width = char_ids.shape[1]
        embedded = self.embedding(char_ids).transpose(1, 2)  # (words, char_dim, chars)
        features = self.conv(embedded)[:, :, :width]  # (words, filters, chars); even kernels add one
        features = features.masked_fill((char_ids == 0)[:, None, :], float("-inf"))
        return features.max(dim=2).values  # (words, filters)


class TokenEmbedder(nn.Module):
    """Word embedding ⊕ optional character features, followed by dropout."""

    def __init__(self, num_words: int, word_dim: int, chars: CharCNN | None, dropout: float) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, word_dim, padding_idx=0)
        self.chars = chars
        self.dropout = nn.Dropout(dropout)
        self.output_dim = word_dim + (chars.output_dim if chars is not None else 0)

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, time) word ids and mask, (batch, time, chars) char ids → (batch, time, output_dim)."""
        features = self.words(word_ids)
        if self.chars is not None:
            # Only real tokens go through the character encoder: padding positions cost nothing.
            chars = features.new_zeros(*word_ids.shape, self.chars.output_dim)
            chars[mask] = self.chars(char_ids[mask]).to(chars.dtype)
            features = torch.cat([features, chars], dim=-1)
        return self.dropout(features)
