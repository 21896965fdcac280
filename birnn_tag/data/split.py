"""An encoded split, the unit training and scoring work on for every task."""

from __future__ import annotations

from dataclasses import dataclass

from birnn_tag.data.encoding import EncodedSentence


@dataclass
class Split:
    """An encoded split: the pieces the model sees (sentences cut to ``data.max_length``) and,
    when it has tags, each whole sentence's gold tags (in the training scheme), the number of
    consecutive pieces it was cut into, so that scores count the sentences as written, and its
    tokens (for error reports), and the gold tags of each piece as the model sees them (for
    calibration). ``context_keys``: which contextual sources' features the sentences carry (their
    cache keys, as :meth:`~birnn_tag.tagging.network.tagger.Tagger.attach_context` put them there)."""

    sentences: list[EncodedSentence]
    tags: list[list[str]] | None = None
    pieces: list[int] | None = None
    tokens: list[list[str]] | None = None
    piece_tags: list[list[str]] | None = None
    context_keys: list[dict | None] | None = None
