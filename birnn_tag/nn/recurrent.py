"""Recurrent layers (LSTM, GRU or vanilla RNN) over padded batches with the results of packed
sequences, on the fused CPU kernels.

A left-to-right RNN's output at a real position t has read inputs 0..t only, so padding placed
after each sequence's end cannot reach it. A right-to-left direction is run left-to-right over
each sequence reversed *within its length* (padding stays at the end), and its outputs are put
back in order. Both directions then run as plain dense LSTMs, which on CPU use oneDNN's fused
kernels: on 32-sentence CoNLL batches they trained 2× faster than the same LSTM over a
``PackedSequence``, whose CPU path steps through time op by op (docs/benchmarks.md). The price
is the work spent on padding, small for length-bucketed sentences (the character BiLSTM, whose
words' lengths vary widely, stays packed; so does the word encoder on CUDA, where cuDNN runs
packed sequences natively, while the cloze model's stacks run dense on every device). Padded
positions of an output hold arbitrary values; callers mask them.

oneDNN fuses only the LSTM. A GRU or vanilla RNN over the padded batch runs PyTorch's own step
loop, no faster than over a packed sequence (on length-bucketed CoNLL batches the two are within
2 % for the GRU and 11 % for the RNN, ``benchmarks/benchmark_kernels.py --cells``) and paying for
every padding step where a batch's lengths vary, so their word encoders stay packed on CPU.
:func:`run_direction` still runs them dense for an ONNX export and the cloze stacks.
"""

from __future__ import annotations

import torch
from torch import nn

from birnn_tag.nn.shapes import pad_to_grid

# model.cell → the torch layer whose weights a recurrent module keeps.
CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def recurrent_layers(owner: nn.Module, cell: str, input_dim: int, hidden_size: int, **options) -> nn.RNNBase:
    """``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (tanh) for ``model.cell``, batch first, to be kept
    as ``owner.rnn``; ``options`` as those classes take them (``num_layers``, ``bidirectional``,
    ``dropout``). Checkpoints saved before ``model.cell`` existed keep these weights under
    ``lstm.``: ``owner`` loads them under their new name."""
    owner.register_load_state_dict_pre_hook(_renamed_lstm_weights)
    return CELLS[cell](input_dim, hidden_size, batch_first=True, **options)


def _renamed_lstm_weights(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    for key in [key for key in state_dict if key.startswith(prefix + "lstm.")]:
        state_dict[prefix + "rnn." + key[len(prefix) + len("lstm."):]] = state_dict.pop(key)


def final_states(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``h_n`` (layers * directions, batch, hidden) of what an RNN module returns as its state:
    an LSTM's is ``(h_n, c_n)``, a GRU's or RNN's ``h_n`` alone."""
    return state[0] if isinstance(state, tuple) else state


def reversal_index(lengths: torch.Tensor, steps: int, device: torch.device) -> torch.Tensor:
    """(batch * steps,) index of the rows of a (batch * steps, dim) view of a padded batch that
    reverses each sequence's first ``length`` steps and keeps the rest in place.

    It is its own inverse: reordering with it twice gives the input back.
    """
    positions = torch.arange(steps, device=device)[None, :]  # (1, steps)
    lengths = lengths.to(device)[:, None]  # (batch, 1)
    within = torch.where(positions < lengths, lengths - 1 - positions, positions)  # (batch, steps)
    return (within + steps * torch.arange(lengths.shape[0], device=device)[:, None]).flatten()  # shape[0]: traced, not a constant


def zero_padding(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``outputs`` (batch, time, dim) with every position at or past its row's length set to 0."""
    padding = torch.arange(outputs.shape[1], device=outputs.device) >= lengths.to(outputs.device)[:, None]
    return outputs.masked_fill(padding[:, :, None], 0.0)


def gather_steps(inputs: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``inputs`` (batch, steps, dim) with its steps reordered by ``index`` from :func:`reversal_index`.

    Whole rows of ``dim`` values are copied: on a 256-sentence batch this ran 5× (fp32) and 20×
    (bf16) faster than an element-wise ``gather`` along the time axis, 3.5× and 7× with its
    backward (``benchmarks/benchmark_kernels.py``).
    """
    batch, steps, dim = inputs.shape
    return inputs.reshape(batch * steps, dim).index_select(0, index).view(batch, steps, dim)


def run_direction(rnn: nn.RNNBase, layer: int, reverse: bool, inputs: torch.Tensor, grid: bool = True) -> torch.Tensor:
    """One direction of one layer of ``rnn`` (an LSTM, GRU or RNN) read left to right over ``inputs`` (batch, time, dim),
    from zero states → (batch, time, hidden_size). ``reverse`` picks the layer's backward weights;
    the caller has already reversed the sequences. ``grid=False`` keeps inference shapes as they
    are (an ONNX export must not bake one batch's padded sizes into its graph)."""
    suffix = f"_l{layer}{'_reverse' if reverse else ''}"
    params = [getattr(rnn, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    batch, steps, _ = inputs.shape
    if grid and inputs.device.type == "cpu" and not rnn.training:
        # Inference batches come in endless (batch, time) shapes and oneDNN keeps a kernel for
        # each (nn/shapes.py); extra rows and trailing steps never reach the real ones.
        # Training batches (batch_size rows, at most data.max_length steps) are few shapes already.
        inputs = pad_to_grid(inputs, 0, 1)
    zeros = inputs.new_zeros(1, inputs.shape[0], rnn.hidden_size)
    # Arguments after the weights: has biases, 1 layer, no dropout, training, one direction, batch first.
    if isinstance(rnn, nn.LSTM):
        outputs = torch.lstm(inputs, (zeros, zeros), params, True, 1, 0.0, rnn.training, False, True)[0]
    elif isinstance(rnn, nn.GRU):
        outputs = torch.gru(inputs, zeros, params, True, 1, 0.0, rnn.training, False, True)[0]
    else:
        step = torch.rnn_tanh if rnn.nonlinearity == "tanh" else torch.rnn_relu
        outputs = step(inputs, zeros, params, True, 1, 0.0, rnn.training, False, True)[0]
    return outputs[:batch, :steps]
