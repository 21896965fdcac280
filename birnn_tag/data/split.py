"""An encoded split, the unit training and scoring work on for every task."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from birnn_tag.data.encoding import EncodedSentence


@dataclass
class Split:
    """An encoded split: the pieces the model sees (sentences cut to ``data.max_length``) and,
    when it has tags, each whole sentence's gold tags (in the training scheme), the token bounds
    of the consecutive pieces it was cut into (windows that may overlap, joined by
    :func:`~birnn_tag.data.pieces.join_windows`), so that scores count the sentences as written,
    and its tokens (for error reports), and the gold tags of each piece as the model sees them (for
    calibration). ``context_keys``: which contextual sources' features the sentences carry (their
    cache keys, as :meth:`~birnn_tag.tagging.network.tagger.Tagger.with_context` gave them)."""

    sentences: list[EncodedSentence]
    tags: list[list[str]] | None = None
    bounds: list[list[tuple[int, int]]] | None = None
    tokens: list[list[str]] | None = None
    piece_tags: list[list[str]] | None = None
    context_keys: list[dict | None] | None = None

    def with_context(self, features: list[list[torch.Tensor | None]], keys: list[dict | None]) -> Split:
        """This split with ``features[row]`` (one entry per contextual source) on each sentence,
        from the sources ``keys`` name; its own sentences are left as they are."""
        sentences = [replace(sentence, context=row) for sentence, row in zip(self.sentences, features)]
        return replace(self, sentences=sentences, context_keys=keys)
