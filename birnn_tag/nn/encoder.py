"""Stacked bidirectional RNN (LSTM, GRU or vanilla) over variable-length sequences: padding never
reaches a real token."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import invert_permutation, pack_padded_sequence, pad_packed_sequence

from birnn_tag.nn.dropout import Dropout
from birnn_tag.nn.recurrent import gather_steps, recurrent_layers, reversal_index, run_direction, zero_padding


class BiRNNEncoder(nn.Module):
    """A stacked bidirectional RNN whose outputs are those of ``nn.LSTM`` (``nn.GRU``, ``nn.RNN``:
    ``cell``) over packed sequences.

    The output at position t is ``[forward_t ; backward_t]``: ``out[..., :hidden_size]`` has read
    tokens 0..t and ``out[..., hidden_size:]`` has read tokens t..len-1, and it is zero past each
    length. On CUDA the batch is packed (cuDNN runs packed sequences natively, on the flattened
    weights the torch module keeps). On CPU an LSTM's layers run over the padded batch, each
    direction as a dense oneDNN kernel (:mod:`birnn_tag.nn.recurrent`): twice as fast, the same
    outputs (a test compares the two paths for every cell); GRU and RNN layers stay packed.
    """

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, dropout: float, cell: str = "lstm") -> None:
        super().__init__()
        self.rnn = recurrent_layers(
            self, cell, input_dim, hidden_size, num_layers=num_layers, bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = Dropout(dropout)
        self.output_dim = 2 * hidden_size

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """inputs (batch, time, input_dim), lengths (batch,) on CPU → outputs (batch, time,
        2 * hidden_size), zero past each length."""
        dense = not inputs.is_cuda and isinstance(self.rnn, nn.LSTM)  # oneDNN's fused kernel (nn/recurrent.py)
        run = self.padded if dense else self.packed
        return self.dropout(run(inputs, lengths))

    def packed(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The layers over a ``PackedSequence`` (without the output dropout).

        The batch is sorted by length, and put back in order after, here rather than by
        ``pack_padded_sequence(enforce_sorted=False)`` and ``pad_packed_sequence``: on a GPU
        each of those makes the host wait (the first copies the order to the device blocking,
        the second copies the inverse order back to the host, to reorder lengths not used
        here). The operations are theirs, and so are the outputs, bit for bit.
        """
        sorted_lengths, order = torch.sort(lengths, descending=True)  # (batch,) each, on the CPU
        order = order.to(inputs.device, non_blocking=True)  # (batch,); the host goes on, as Batch.to's copies let it
        packed = pack_padded_sequence(inputs.index_select(0, order), sorted_lengths, batch_first=True)
        outputs, _ = self.rnn(packed)
        padded = pad_packed_sequence(outputs, batch_first=True, total_length=inputs.shape[1])[0]  # (batch, time, 2 * hidden), sorted
        return padded.index_select(0, invert_permutation(order))  # (batch, time, 2 * hidden), in the batch's order

    def padded(self, inputs: torch.Tensor, lengths: torch.Tensor, grid: bool = True) -> torch.Tensor:
        """The layers one by one over the padded batch (without the output dropout); between
        layers, dropout as ``nn.LSTM`` applies it. ``grid``: as :func:`run_direction`'s."""
        index = reversal_index(lengths, inputs.shape[1], inputs.device)
        outputs = inputs
        for layer in range(self.rnn.num_layers):
            if layer:
                outputs = self.dropout(outputs)
            forward = run_direction(self.rnn, layer, False, outputs, grid)
            backward = run_direction(self.rnn, layer, True, gather_steps(outputs, index), grid)  # reversed order
            outputs = torch.cat([forward, gather_steps(backward, index)], dim=-1)
        return zero_padding(outputs, lengths)
