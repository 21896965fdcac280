"""Fill-in-the-blank model: two separate stacked directional RNNs (ELMo-style), no leakage.

A stacked *bidirectional* LSTM leaks: from layer 2 on, the forward input at t-1 is the layer-1
backward state at t-1, which has read x_t. So the forward and backward stacks are separate
networks, and the word at t is predicted from the forward state at t-1 and the backward state
at t+1 only. Learned boundary vectors stand in for "before the first word" and "after the last":

    forward stack reads   [BOS, x_0, x_1, ..., x_{n-1}]     → f_0 .. f_n      (f_t has read x_<t)
    backward stack reads  [x_0, x_1, ..., x_{n-1}, EOS] ←   → b_0 .. b_n      (b_{t+1} has read x_>t)
    prediction for x_t    uses [f_t ; b_{t+1}]

Padding never changes a result: each stack reads its sequences with padding after their ends.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from birnn_tag.config import ClozeModelConfig
from birnn_tag.data.batching import Batch
from birnn_tag.data.vocab import PAD_ID
from birnn_tag.errors import ConfigError
from birnn_tag.nn.dropout import Dropout
from birnn_tag.nn.recurrent import gather_steps, recurrent_layers, reversal_index, zero_padding

ADAPTIVE_ABOVE = 20_000  # vocabulary size from which output_layer: auto picks the adaptive softmax


class DirectionalStack(nn.Module):
    """A stacked unidirectional LSTM (GRU, RNN: ``cell``) reading left-to-right or right-to-left,
    with the results of packed sequences (see :mod:`birnn_tag.nn.recurrent`)."""

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, dropout: float, reverse: bool, cell: str = "lstm") -> None:
        super().__init__()
        self.rnn = recurrent_layers(self, cell, input_dim, hidden_size, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.reverse = reverse

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time, input_dim), lengths on CPU → (batch, time, hidden), zero past each length.

        For ``reverse``, output t has read inputs t..length-1."""
        if not self.reverse:
            outputs, _ = self.rnn(inputs)  # padding sits after each sequence, out of its reach
            return zero_padding(outputs, lengths)
        index = reversal_index(lengths, inputs.shape[1], inputs.device)  # its own inverse
        outputs, _ = self.rnn(gather_steps(inputs, index))
        return zero_padding(gather_steps(outputs, index), lengths)


class ClozeOutput(nn.Module):
    """Distribution over the vocabulary: a full softmax, or an adaptive softmax for large vocabularies."""

    def __init__(self, input_dim: int, num_words: int, adaptive_cutoffs: list[int] | None) -> None:
        super().__init__()
        self.adaptive = None
        self.linear = None
        if adaptive_cutoffs:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(input_dim, num_words, adaptive_cutoffs, div_value=4.0)
        else:
            self.linear = nn.Linear(input_dim, num_words)

    def loss(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of ``targets`` (N,) given ``features`` (N, input_dim)."""
        if self.adaptive is not None:
            return self.adaptive(features, targets).loss
        return F.cross_entropy(self.linear(features), targets)

    def log_probs(self, features: torch.Tensor) -> torch.Tensor:
        """(N, input_dim) → (N, num_words) log-probabilities."""
        if self.adaptive is not None:
            return self.adaptive.log_prob(features)
        return self.linear(features).log_softmax(dim=-1)


class ClozeNetwork(nn.Module):
    """Word embedding → forward and/or backward stacks → shifted concatenation → output layer."""

    def __init__(
        self,
        num_words: int,
        word_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        direction: str,
        adaptive_cutoffs: list[int] | None,
        cell: str = "lstm",
    ) -> None:
        super().__init__()
        self.direction = direction
        self.embedding = nn.Embedding(num_words, word_dim, padding_idx=PAD_ID)
        self.boundary = nn.Parameter(torch.randn(2, word_dim) * 0.1)  # BOS, EOS input vectors
        self.dropout = Dropout(dropout)
        stack = lambda reverse: DirectionalStack(word_dim, hidden_size, num_layers, dropout, reverse, cell)  # noqa: E731
        self.forward_stack = stack(False) if self.direction in ("both", "forward") else None
        self.backward_stack = stack(True) if self.direction in ("both", "backward") else None
        width = hidden_size * (2 if self.direction == "both" else 1)
        self.output = ClozeOutput(width, num_words, adaptive_cutoffs)

    def features(self, word_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Context features for every position: (batch, time, width); position t never sees x_t."""
        forward, backward = self._stack_outputs(word_ids, lengths)
        parts = [] if forward is None else [forward[:, :-1]]  # f_t has read BOS, x_<t
        parts += [] if backward is None else [backward[:, 1:]]  # b_{t+1} has read x_>t, EOS
        return self.dropout(torch.cat(parts, dim=-1))

    def states(self, word_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The top layers' states *after* reading each word, (batch, time, width), zero past each
        length: the forward state at t has read BOS, x_<=t and the backward one x_>=t, EOS. These
        are TagLM's features (Peters et al. 2017) for a tagger, which, unlike a cloze prediction,
        may see the word itself."""
        forward, backward = self._stack_outputs(word_ids, lengths)
        parts = [] if forward is None else [forward[:, 1:]]
        parts += [] if backward is None else [backward[:, :-1]]
        return zero_padding(torch.cat(parts, dim=-1), lengths)

    def _stack_outputs(self, word_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The forward stack's outputs over ``[BOS, x_0 .. x_{n-1}]`` and the backward stack's over
        ``[x_0 .. x_{n-1}, EOS]``, each (batch, time + 1, hidden), or None for a missing direction."""
        batch, time = word_ids.shape
        embedded = self.dropout(self.embedding(word_ids))  # (batch, time, dim)
        longer = lengths + 1
        forward = backward = None
        if self.forward_stack is not None:
            bos = self.boundary[0].expand(batch, 1, -1)  # (batch, 1, dim)
            shifted = torch.cat([bos, embedded], dim=1)  # (batch, time+1, dim): x_t sits at t+1
            forward = self.forward_stack(shifted, longer)
        if self.backward_stack is not None:
            padded = torch.cat([embedded, embedded.new_zeros(batch, 1, embedded.shape[2])], dim=1)  # (batch, time+1, dim)
            rows = torch.arange(batch, device=word_ids.device)
            with_eos = padded.index_put((rows, lengths.to(word_ids.device)), self.boundary[1].expand(batch, -1))
            backward = self.backward_stack(with_eos, longer)
        return forward, backward

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean negative log-likelihood of every real word given its context."""
        features = self.features(batch.word_ids, batch.lengths)
        return self.output.loss(features[batch.mask], batch.word_ids[batch.mask])

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss: ``forward`` is what DistributedDataParallel synchronises around."""
        return self.loss(batch)

    def log_probs(self, word_ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(positions, num_words) log-probabilities for the positions selected by ``mask`` (batch, time)."""
        return self.output.log_probs(self.features(word_ids, lengths)[mask])


def build_cloze_model(config: ClozeModelConfig, num_words: int) -> ClozeNetwork:
    """An untrained cloze model; ``output_layer: auto`` goes adaptive above 20,000 words."""
    adaptive = config.output_layer == "adaptive" or (config.output_layer == "auto" and num_words > ADAPTIVE_ABOVE)
    cutoffs = None
    if adaptive:
        cutoffs = config.adaptive_cutoffs or [c for c in (2_000, 10_000, 50_000) if c < num_words - 1]
        if cutoffs != sorted(set(cutoffs)) or not 0 < cutoffs[0] or cutoffs[-1] >= num_words - 1:
            raise ConfigError(
                f"model.adaptive_cutoffs: {cutoffs} must increase strictly within 1..{num_words - 2} "
                f"(the vocabulary has {num_words} words)"
            )
    return ClozeNetwork(
        num_words, config.word_dim, config.hidden_size, config.num_layers, config.dropout, config.direction, cutoffs,
        config.cell,
    )
