"""Token representations: word embedding ⊕ optional character encoder ⊕ optional casing feature."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from birnn_tag.nn.dropout import Dropout
from birnn_tag.nn.recurrent import final_states, gather_steps, recurrent_layers, reversal_index, run_direction
from birnn_tag.nn.scalar_mix import ScalarMix
from birnn_tag.nn.shapes import pad_to_grid


class CharCNN(nn.Module):
    """Character CNN (Ma & Hovy 2016): embed characters, convolve, max-pool over each word.

    The convolution runs as one matrix product over the batch's real characters, laid end to end
    with ``kernel_size // 2`` zero vectors between words (exactly the zero padding each word would
    get on its own). Padding inside the (words, chars) id tensor therefore costs nothing and never
    changes a word's vector, however long the other words in the batch are.
    """

    def __init__(self, num_chars: int, char_dim: int, num_filters: int, kernel_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)  # ids are 0-padded, as forward() assumes
        self.conv = nn.Conv1d(char_dim, num_filters, kernel_size, padding=kernel_size // 2)
        self.output_dim = num_filters

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (words, chars), 0-padded, every word non-empty → (words, num_filters)."""
        real = char_ids != 0  # (words, chars)
        lengths = real.sum(dim=1)
        kernel, gap = self.conv.kernel_size[0], self.conv.kernel_size[0] // 2
        # Word i starts after the previous words and one gap per word so far (the first gap leads).
        starts = torch.cumsum(lengths + gap, dim=0) - lengths  # (words,)
        positions = (starts[:, None] + torch.arange(char_ids.shape[1], device=char_ids.device))[real]  # (chars,)
        embedded = self.embedding(char_ids[real])  # (chars, char_dim)
        line = embedded.new_zeros(int(starts[-1] + lengths[-1]) + gap, embedded.shape[1])
        line = line.index_put((positions,), embedded)  # (line, char_dim), zero between words
        # Window r of the unfolded line covers line[r : r + kernel]; a character at p is centred in
        # window p - gap. Gathering the windows first keeps the gaps out of the product.
        windows = line.unfold(0, kernel, 1)[positions - gap].flatten(1)  # (chars, dim * kernel)
        weight = self.conv.weight.flatten(1)  # (filters, dim * kernel), the same (dim, kernel) order
        count = windows.shape[0]
        if not self.training:
            # Zero rows up to a grid size: under bf16 autocast oneDNN keeps a kernel per row count
            # (nn/shapes.py), and a batch's character count is almost never seen twice. Training
            # runs in fp32 on CPU, which keeps no such kernels, so it is spared the copy.
            windows = pad_to_grid(windows, 0)
        features = torch.addmm(self.conv.bias, windows, weight.t())[:count]  # (chars, filters)
        pooled = features.new_full((*char_ids.shape, self.output_dim), float("-inf"))
        return pooled.index_put((real,), features).max(dim=1).values  # (words, filters)

    def dense(self, char_ids: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` as a plain convolution over the padded ids, with shapes that follow the
        input's (an ONNX export's form); padding characters embed to zero, as the gaps between
        words do, and are left out of the max. A word without characters gives 0."""
        # An even kernel gives one step more than there are characters: the first ones are theirs.
        features = self.conv(self.embedding(char_ids).transpose(1, 2))[:, :, : char_ids.shape[1]]  # (words, filters, chars)
        real = (char_ids != 0).unsqueeze(1)  # (words, 1, chars)
        pooled = features.masked_fill(~real, float("-inf")).amax(dim=2)  # (words, filters)
        return pooled.masked_fill(~real.any(dim=2), 0.0)


class CharRNN(nn.Module):
    """Character BiLSTM (Lample et al. 2016), or BiGRU / BiRNN (``cell``): a word is its last
    forward and first backward state."""

    def __init__(self, num_chars: int, char_dim: int, hidden_size: int, cell: str = "lstm") -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)  # ids are 0-padded, as forward() assumes
        self.rnn = recurrent_layers(self, cell, char_dim, hidden_size, bidirectional=True)
        self.output_dim = 2 * hidden_size

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """char_ids (words, chars), 0-padded, every word non-empty → (words, 2 * hidden_size)."""
        lengths = (char_ids != 0).sum(dim=1).cpu()  # (words,)
        # Packed, unlike the word BiLSTM (nn/recurrent.py): words of 1 to 20+ characters and 25
        # hidden units leave oneDNN's dense kernel mostly padding; for 1,500 words it trained in
        # 28-39 ms packed against 63-66 ms dense (docs/benchmarks.md).
        packed = pack_padded_sequence(self.embedding(char_ids), lengths, batch_first=True, enforce_sorted=False)
        h_n = final_states(self.rnn(packed)[1])  # (2, words, hidden): forward end, backward start
        return torch.cat([h_n[0], h_n[1]], dim=-1)  # (words, 2 * hidden)

    def dense(self, char_ids: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` over the padded ids, each direction a dense LSTM (an ONNX export's form:
        no packed sequences); the backward direction reads each word reversed within its length."""
        lengths = (char_ids != 0).sum(dim=1)  # (words,)
        embedded = self.embedding(char_ids)  # (words, chars, char_dim)
        index = reversal_index(lengths, char_ids.shape[1], char_ids.device)
        forward = run_direction(self.rnn, 0, False, embedded, grid=False)  # (words, chars, hidden)
        backward = run_direction(self.rnn, 0, True, gather_steps(embedded, index), grid=False)
        last = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, self.rnn.hidden_size)  # (words, 1, hidden)
        # The last real step: the forward end, and the backward state at the word's first character.
        return torch.cat([forward.gather(1, last).squeeze(1), backward.gather(1, last).squeeze(1)], dim=-1)


def distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of an integer matrix and, for each row, the index of its copy:
    ``distinct[index] == rows``.

    Rows are grouped by a polynomial hash (a 1-D ``unique`` is far cheaper than ``unique(dim=0)``)
    and the result is checked exactly; in the astronomically rare case of a hash collision every
    row is kept, so the answer is always right.
    """
    powers = _hash_powers(rows.shape[1], rows.device)  # (chars,)
    keys = (rows * powers).sum(dim=1)  # (rows,); int64 overflow wraps, which is fine for a hash
    unique_keys, index = torch.unique(keys, return_inverse=True)
    first = torch.empty_like(unique_keys).scatter_(0, index, torch.arange(len(keys), device=rows.device))
    distinct = rows[first]
    if not torch.equal(distinct[index], rows):
        return rows, torch.arange(len(rows), device=rows.device)
    return distinct, index


@functools.lru_cache(maxsize=64)
def _hash_powers(width: int, device: torch.device) -> torch.Tensor:
    return torch.tensor([pow(1_000_003, j, 2**61 - 1) for j in range(width)], device=device)


class TokenEmbedder(nn.Module):
    """Word embedding ⊕ optional character features ⊕ optional casing embedding ⊕ optional
    contextual features (each source's layers mixed by a :class:`ScalarMix`), then dropout.

    ``word_dropout`` replaces each real word by ``<unk>`` with that probability while training, so
    the model learns to use characters and context for words it has never seen.
    """

    def __init__(
        self,
        words: nn.Embedding,
        chars: CharCNN | CharRNN | None,
        casing: nn.Embedding | None,
        dropout: float,
        word_dropout: float = 0.0,
        *,
        unk_id: int,
        mixes: list[ScalarMix] = (),
    ) -> None:
        super().__init__()
        self.words = words
        self.chars = chars
        self.casing = casing
        self.mixes = nn.ModuleList(mixes)  # one per contextual source, in the tagger's order
        self.dropout = Dropout(dropout)
        self.word_dropout = word_dropout
        self.unk_id = unk_id  # the word id a dropped word becomes
        self.output_dim = (
            words.embedding_dim
            + (chars.output_dim if chars is not None else 0)
            + (casing.embedding_dim if casing is not None else 0)
            + sum(mix.output_dim for mix in mixes)
        )

    def forward(
        self,
        word_ids: torch.Tensor,
        char_ids: torch.Tensor | None,
        mask: torch.Tensor,
        casing_ids: torch.Tensor | None = None,
        context: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """(batch, time) word ids, mask and casing ids, (batch, time, chars) char ids and, per
        contextual source, (batch, time, layers, dim) features → (batch, time, output_dim)."""
        if self.training and self.word_dropout > 0:
            dropped = (torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout) & mask
            word_ids = word_ids.masked_fill(dropped, self.unk_id)
        parts = [self.words(word_ids)]  # (batch, time, word_dim)
        if self.chars is not None:
            parts.append(self.character_features(char_ids, mask, parts[0].dtype))  # (batch, time, char features)
        if self.casing is not None:
            parts.append(self.casing(casing_ids))  # (batch, time, casing_dim)
        for mix, layers in zip(self.mixes, context or ()):
            parts.append(mix(layers).to(parts[0].dtype))  # (batch, time, dim), zero past each length
        return self.dropout(torch.cat(parts, dim=-1))

    def character_features(self, char_ids: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(batch, time, chars) char ids and (batch, time) mask → (batch, time, char features)
        in ``dtype``, zero on padding.

        On the CPU only real tokens go through the character encoder, and each distinct spelling
        once: padding costs nothing, and "the" or "," is encoded once per batch, not dozens of
        times. Picking them out sizes tensors by the data (a boolean mask, ``unique``, the count
        of characters), which on a GPU makes the host wait for the device; there the encoder's
        dense form reads every position of the padded batch instead, in shapes the batch fixes:
        the same features up to rounding (tests/training/test_sync_free.py).
        """
        if char_ids.is_cuda:
            features = self.chars.dense(char_ids.flatten(0, 1)).view(*mask.shape, -1)  # (batch, time, char features)
            return features.to(dtype).masked_fill(~mask.unsqueeze(2), 0.0)
        spellings, positions = distinct_rows(char_ids[mask])  # (spellings, chars), (tokens,)
        chars = torch.zeros(*mask.shape, self.chars.output_dim, dtype=dtype, device=char_ids.device)
        chars[mask] = self.chars(spellings).to(dtype)[positions]
        return chars

    def dense(
        self,
        word_ids: torch.Tensor,
        spellings: torch.Tensor | None,
        spelling_ids: torch.Tensor | None,
        mask: torch.Tensor,
        casing_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        """:meth:`forward` at inference, given the batch's distinct ``spellings`` (spellings,
        chars) and each position's row of them, ``spelling_ids`` (batch, time), instead of
        :func:`distinct_rows` (no boolean indexing: shapes follow the input's, as an ONNX export
        needs)."""
        parts = [self.words(word_ids)]  # (batch, time, word_dim)
        if self.chars is not None:
            features = self.chars.dense(spellings)  # (spellings, char features)
            chars = features.index_select(0, spelling_ids.flatten()).reshape(*spelling_ids.shape, -1)
            parts.append(chars.masked_fill(~mask.unsqueeze(2), 0.0))  # (batch, time, char features)
        if self.casing is not None:
            parts.append(self.casing(casing_ids))  # (batch, time, casing_dim)
        return torch.cat(parts, dim=-1)
