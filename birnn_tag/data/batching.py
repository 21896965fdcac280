"""Length-bucketed batches of padded tensors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from birnn_tag.data.batch_plans import MAX_BATCH_TOKENS, sorted_batches
from birnn_tag.data.encoding import EncodedSentence


@dataclass
class WindowBatch:
    """The windows (document context) of a batch's sentences, padded as :class:`Batch` pads
    sentences; ``starts`` (batch,): where each sentence starts in its window; ``spellings``
    (batch, time): each window's :attr:`~birnn_tag.data.encoding.Window.spellings`."""

    word_ids: torch.Tensor
    char_ids: torch.Tensor | None
    casing_ids: torch.Tensor | None
    lengths: torch.Tensor
    mask: torch.Tensor
    starts: torch.Tensor
    spellings: torch.Tensor

    def to(self, device: torch.device) -> WindowBatch:
        """The same windows with their tensors (except ``lengths``) on ``device``."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return WindowBatch(
            move(self.word_ids), move(self.char_ids), move(self.casing_ids), self.lengths, move(self.mask), move(self.starts), move(self.spellings)
        )


@dataclass
class Batch:
    """A padded batch. ``lengths`` stays on the CPU (``pack_padded_sequence`` wants it there).

    Shapes: ``word_ids``/``tag_ids``/``mask`` (batch, time); ``char_ids`` (batch, time, chars) or None;
    ``indices`` are the sentences' positions in their split, to restore input order. ``tokens``:
    the sentences' words as written; ``context``: per contextual source, cached (batch, time,
    layers, dim) features, zero past each length, or None (see :class:`EncodedSentence`);
    ``window``: the sentences' windows, for models that read document context; ``soft_tags``
    (batch, time, num_labels): target distributions, zero on padding, or None.
    """

    word_ids: torch.Tensor
    char_ids: torch.Tensor | None
    tag_ids: torch.Tensor | None
    lengths: torch.Tensor
    mask: torch.Tensor
    indices: list[int]
    casing_ids: torch.Tensor | None = None
    tokens: list[list[str]] | None = None
    context: list[torch.Tensor | None] | None = None
    window: WindowBatch | None = None
    soft_tags: torch.Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors (except ``lengths``) on ``device``."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(
            move(self.word_ids), move(self.char_ids), move(self.tag_ids), self.lengths, move(self.mask),
            self.indices, move(self.casing_ids), self.tokens, None if self.context is None else [move(c) for c in self.context],
            None if self.window is None else self.window.to(device), move(self.soft_tags),
        )

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def collate(sentences: Sequence[EncodedSentence], indices: Sequence[int]) -> Batch:
    """Pad a list of encoded sentences into a :class:`Batch` (padding id 0 everywhere)."""
    padded = _Padded([len(s) for s in sentences])
    tokens = [s.tokens for s in sentences] if sentences[0].tokens is not None else None
    context = None
    if sentences[0].context is not None:
        context = [_pad_features([s.context[i] for s in sentences], padded.time) for i in range(len(sentences[0].context))]
    window = None
    if sentences[0].window is not None:
        windows = [s.window for s in sentences]
        around = _Padded([len(w) for w in windows])
        window = WindowBatch(
            around.ids([w.words for w in windows]), around.chars([w.chars for w in windows]), around.ids([w.casing for w in windows]),
            around.lengths, around.mask, torch.tensor([w.start for w in windows], dtype=torch.long), around.ids([w.spellings for w in windows]),
        )
    return Batch(
        padded.ids([s.words for s in sentences]), padded.chars([s.chars for s in sentences]), padded.ids([s.tags for s in sentences]),
        padded.lengths, padded.mask, list(indices), padded.ids([s.casing for s in sentences]), tokens, context, window,
        padded.rows([s.soft for s in sentences]),
    )


class _Padded:
    """Padding of token rows of the given lengths into (batch, time) tensors."""

    def __init__(self, lengths: list[int]) -> None:
        self.lengths = torch.tensor(lengths, dtype=torch.long)
        self.time = int(self.lengths.max())
        self.mask = torch.arange(self.time)[None, :] < self.lengths[:, None]  # (batch, time)

    def ids(self, parts: list[torch.Tensor | None]) -> torch.Tensor | None:
        # The mask's True cells, row by row, are the rows' tokens end to end.
        if parts[0] is None:
            return None
        return torch.zeros(self.mask.shape, dtype=torch.long).masked_scatter_(self.mask, torch.cat(parts))

    def rows(self, parts: list[torch.Tensor | None]) -> torch.Tensor | None:
        """(length, width) float rows per sequence as one zero-padded (batch, time, width) tensor."""
        if parts[0] is None:
            return None
        padded = torch.zeros(*self.mask.shape, parts[0].shape[1], dtype=parts[0].dtype)
        padded[self.mask] = torch.cat(parts)
        return padded

    def chars(self, parts: list[torch.Tensor | None]) -> torch.Tensor | None:
        if parts[0] is None:
            return None
        char_ids = torch.zeros(*self.mask.shape, max(part.shape[1] for part in parts), dtype=torch.long)
        for row, part in enumerate(parts):
            char_ids[row, : part.shape[0], : part.shape[1]] = part
        return char_ids


def _pad_features(features: list[torch.Tensor | None], time: int) -> torch.Tensor | None:
    """Per-sentence (length, layers, dim) features as one zero-padded (batch, time, layers, dim)
    tensor in their own dtype (fp16 when cached); None for a source the model runs itself."""
    if features[0] is None:
        return None
    padded = features[0].new_zeros(len(features), time, *features[0].shape[1:])
    for row, rows in enumerate(features):
        padded[row, : len(rows)] = rows
    return padded


def bucketed_batches(lengths: Sequence[int], batch_size: int, *, generator: torch.Generator | None = None) -> list[list[int]]:
    """Training batches: sentence indices grouped by similar length, in random order.

    Sentences are sorted by length plus a little noise (so equal lengths mix across epochs), cut
    into runs of ``batch_size`` and the runs shuffled.
    """
    keys = torch.tensor(lengths, dtype=torch.float) + torch.rand(len(lengths), generator=generator) * 2.0
    order = torch.argsort(keys, stable=True).tolist()
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def iterate_batches(sentences: Sequence[EncodedSentence], batch_size: int, max_tokens: int = MAX_BATCH_TOKENS) -> Iterator[Batch]:
    """Collated inference batches over ``sentences`` (see :func:`sorted_batches`, with its
    ``max_tokens``), sorted by the length the encoder reads."""
    for indices in sorted_batches([s.read_length for s in sentences], batch_size, max_tokens):
        yield collate([sentences[i] for i in indices], indices)
