"""Stacked bidirectional LSTM over packed sequences."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from birnn_tag.model.dropout import Dropout


class BiLSTMEncoder(nn.Module):
    """A stacked BiLSTM run on packed sequences, so padding never reaches a real token's state.

    The output at position t is ``[forward_t ; backward_t]``: ``out[..., :hidden_size]`` has read
    tokens 0..t and ``out[..., hidden_size:]`` has read tokens t..len-1.
    """

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_dim,
            hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = Dropout(dropout)
        self.output_dim = 2 * hidden_size

    def forward(
        self, inputs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """inputs (batch, time, input_dim), lengths (batch,) on CPU.

        Returns the padded outputs (batch, time, 2 * hidden_size), zero past each length, and the
        final states ``(h_n, c_n)``, each (num_layers * 2, batch, hidden_size) in input order.
        """
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        outputs, state = self.lstm(packed)
        padded, _ = pad_packed_sequence(outputs, batch_first=True, total_length=inputs.shape[1])
        return self.dropout(padded), state
