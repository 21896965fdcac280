"""Stacked bidirectional LSTM over variable-length sequences: padding never reaches a real token."""

from __future__ import annotations

import torch
from torch import nn

from birnn_tag.model.dropout import Dropout
from birnn_tag.model.recurrent import gather_steps, reversal_index, run_direction


class BiLSTMEncoder(nn.Module):
    """A stacked BiLSTM with the outputs of ``nn.LSTM`` over packed sequences, run on padded
    batches (see :mod:`birnn_tag.model.recurrent`, and the test that compares the two).

    The output at position t is ``[forward_t ; backward_t]``: ``out[..., :hidden_size]`` has read
    tokens 0..t and ``out[..., hidden_size:]`` has read tokens t..len-1. The weights live in an
    ``nn.LSTM`` (so checkpoints keep its parameter names); layers are read one at a time, with
    dropout between them as ``nn.LSTM`` would apply.
    """

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True)
        self.dropout = Dropout(dropout)
        self.output_dim = 2 * hidden_size

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """inputs (batch, time, input_dim), lengths (batch,) → outputs (batch, time, 2 * hidden_size),
        zero past each length."""
        index = reversal_index(lengths, inputs.shape[1], inputs.device)
        outputs = inputs
        for layer in range(self.lstm.num_layers):
            if layer:
                outputs = self.dropout(outputs)
            forward = run_direction(self.lstm, layer, False, outputs)
            backward = run_direction(self.lstm, layer, True, gather_steps(outputs, index))  # reversed order
            outputs = torch.cat([forward, gather_steps(backward, index)], dim=-1)
        padding = torch.arange(inputs.shape[1], device=inputs.device) >= lengths.to(inputs.device)[:, None]
        return self.dropout(outputs.masked_fill(padding[:, :, None], 0.0))
