"""Length-bucketed batches of padded tensors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from birnn_tag.data.batch_plans import sorted_batches
from birnn_tag.data.encoding import EncodedSentence


@dataclass
class Batch:
    """A padded batch. ``lengths`` stays on the CPU (``pack_padded_sequence`` wants it there).

    Shapes: ``word_ids``/``tag_ids``/``mask`` (batch, time); ``char_ids`` (batch, time, chars) or None;
    ``indices`` are the sentences' positions in their split, to restore input order. ``tokens``:
    the sentences' words as written; ``context``: per contextual source, cached (batch, time,
    layers, dim) features, zero past each length, or None (see :class:`EncodedSentence`).
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

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors (except ``lengths``) on ``device``."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(
            move(self.word_ids), move(self.char_ids), move(self.tag_ids), self.lengths, move(self.mask),
            self.indices, move(self.casing_ids), self.tokens, None if self.context is None else [move(c) for c in self.context],
        )

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def collate(sentences: Sequence[EncodedSentence], indices: Sequence[int]) -> Batch:
    """Pad a list of encoded sentences into a :class:`Batch` (padding id 0 everywhere)."""
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    size, time = len(sentences), int(lengths.max())
    mask = torch.arange(time)[None, :] < lengths[:, None]  # (batch, time)

    def pad(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
        # The mask's True cells, row by row, are the sentences' tokens end to end.
        if parts[0] is None:
            return None
        return torch.zeros(size, time, dtype=torch.long).masked_scatter_(mask, torch.cat(parts))

    char_ids = None
    if sentences[0].chars is not None:
        char_ids = torch.zeros(size, time, max(s.chars.shape[1] for s in sentences), dtype=torch.long)
        for row, sentence in enumerate(sentences):
            char_ids[row, : len(sentence), : sentence.chars.shape[1]] = sentence.chars
    word_ids = pad([s.words for s in sentences])
    tag_ids = pad([s.tags for s in sentences])
    casing_ids = pad([s.casing for s in sentences])
    tokens = [s.tokens for s in sentences] if sentences[0].tokens is not None else None
    context = None
    if sentences[0].context is not None:
        context = [_pad_features([s.context[i] for s in sentences], time) for i in range(len(sentences[0].context))]
    return Batch(word_ids, char_ids, tag_ids, lengths, mask, list(indices), casing_ids, tokens, context)


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


def iterate_batches(sentences: Sequence[EncodedSentence], batch_size: int) -> Iterator[Batch]:
    """Collated inference batches over ``sentences`` (see :func:`sorted_batches`)."""
    for indices in sorted_batches([len(s) for s in sentences], batch_size):
        yield collate([sentences[i] for i in indices], indices)
