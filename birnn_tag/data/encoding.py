"""Sentences → the id tensors a PyTorch model reads (word, character, casing and tag ids), from
:class:`~birnn_tag.data.token_ids.TokenIds`' batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from birnn_tag.config import EncodingConfig
from birnn_tag.data.document_context import Context, spelling_keys
from birnn_tag.data.token_ids import TokenIds
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError

if TYPE_CHECKING:  # `predict` encodes without `datasets`, and importing it costs 0.6 s
    import datasets


@dataclass
class Window:
    """A sentence and the tokens around it that the encoder reads (document context): ``words``,
    ``chars`` and ``casing`` of the whole window, as in :class:`EncodedSentence`; the sentence
    starts at ``start``. ``spellings`` (T,): for each window token, the position of the first
    token spelled the same up to case (:func:`spelling_keys`)."""

    words: torch.Tensor
    chars: torch.Tensor | None
    casing: torch.Tensor | None
    start: int
    spellings: torch.Tensor

    def __len__(self) -> int:
        return self.words.shape[0]


@dataclass
class EncodedSentence:
    """One sentence as tensors: ``words`` (T,), ``chars`` (T, W) with 0-padding, ``tags`` (T,).

    ``chars`` is None for models without a character encoder, ``tags`` for untagged text.
    ``tokens`` are the words as written, which contextual features read; ``context`` holds, per
    contextual source of the model, its cached (T, layers, dim) features, or None where the
    model computes them from the tokens as it goes (a fine-tuned transformer). ``window``: the
    sentence with its document context, for models that read one (``model.document_context``).
    ``soft``: (T, num_labels) target distributions (a teacher's, ``training.teacher``) or None.
    """

    words: torch.Tensor
    chars: torch.Tensor | None
    tags: torch.Tensor | None = None
    casing: torch.Tensor | None = None
    tokens: list[str] | None = None
    context: list[torch.Tensor | None] | None = None
    window: Window | None = None
    soft: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.words.shape[0]

    @property
    def read_length(self) -> int:
        """The tokens the encoder reads: the window's, when the sentence has one."""
        return len(self.window) if self.window is not None else len(self)


#: The tag id of a token whose tag is missing (``data.missing_tag``): heads leave it to the model.
MISSING_ID = -1


def encode_tags(tags: list[str], vocabs: Vocabularies, where: str, missing: str | None = None) -> list[int]:
    """Label ids (:data:`MISSING_ID` for ``missing``); a label the model was not trained on is an
    error naming its sentence."""
    try:
        return [MISSING_ID if tag == missing else vocabs.labels.id(tag) for tag in tags]
    except KeyError as error:
        known = ", ".join(vocabs.labels.items)
        raise DataError(f"{where}: label {error.args[0]!r} was not seen in training (known: {known})") from None


class TokenEncoder(TokenIds):
    """:class:`~birnn_tag.data.token_ids.TokenIds` whose batches become the tensors a PyTorch model reads."""

    def encode_sentences(
        self, sentences: Sequence[list[str]], tags: Sequence[list[int]] | None = None, contexts: Sequence[Context] | None = None
    ) -> list[EncodedSentence]:
        """The sentences (and their tag ids, if given) as tensors: slices of a few whole-batch
        tensors (one ``torch.tensor`` per sentence and field was a large share of prediction
        time), each sentence's characters cut to its own longest word. With ``contexts`` (the
        tokens before and after each sentence) each one comes with its :class:`Window`."""
        if contexts is not None:
            return self._encode_windows(sentences, tags, contexts)
        batch = self.encode(sentences)
        spellings = torch.from_numpy(batch.spellings)
        chars = torch.from_numpy(batch.chars)[spellings]  # (tokens, longest word)
        lengths = batch.lengths.tolist()
        owner = torch.repeat_interleave(torch.arange(len(sentences)), torch.from_numpy(batch.lengths))
        widest = torch.zeros(len(sentences), dtype=torch.long).scatter_reduce_(0, owner, torch.from_numpy(batch.widths), "amax")
        parts = zip(
            torch.from_numpy(batch.words).split(lengths), chars.split(lengths), torch.from_numpy(batch.casing).split(lengths),
            widest.tolist(), sentences, tags if tags is not None else [None] * len(sentences),
        )
        return [
            EncodedSentence(
                words=w, chars=c[:, :width], casing=k, tokens=tokens, tags=None if ids is None else torch.tensor(ids, dtype=torch.long)
            )
            for w, c, k, width, tokens, ids in parts
        ]

    def _encode_windows(
        self, sentences: Sequence[list[str]], tags: Sequence[list[int]] | None, contexts: Sequence[Context]
    ) -> list[EncodedSentence]:
        """Each sentence encoded inside its window, the sentence's own tensors slices of the window's."""
        windows = self.encode_sentences([[*before, *tokens, *after] for tokens, (before, after) in zip(sentences, contexts)])
        encoded = []
        for row, (window, tokens, (before, _)) in enumerate(zip(windows, sentences, contexts)):
            start, end = len(before), len(before) + len(tokens)
            encoded.append(
                EncodedSentence(
                    words=window.words[start:end],
                    chars=window.chars[start:end],
                    tags=None if tags is None else torch.tensor(tags[row], dtype=torch.long),
                    casing=window.casing[start:end],
                    tokens=list(tokens),
                    window=Window(window.words, window.chars, window.casing, start, torch.tensor(spelling_keys(window.tokens))),
                )
            )
        return encoded


#: Sentences encoded together when a split is: bounds the (tokens, longest word) character
#: tensor each one's characters are slices of.
SPLIT_CHUNK = 1000


def encode_split(
    dataset: datasets.Dataset,
    vocabs: Vocabularies,
    config: EncodingConfig,
    missing: str | None = None,
    contexts: Sequence[Context] | None = None,
) -> list[EncodedSentence]:
    """A prepared split (columns tokens, optional tags, where) as tensors, as ``predict`` encodes
    text, with each row's ``contexts`` if given; a tag the vocabulary lacks is an error naming
    its sentence, ``missing`` is :data:`MISSING_ID`."""
    tags = None
    if "tags" in dataset.column_names:
        tags = [encode_tags(row, vocabs, where, missing) for row, where in zip(dataset["tags"], dataset["where"])]
    return encode_in_chunks(TokenEncoder(vocabs, config), dataset["tokens"], tags, contexts)


def encode_in_chunks(
    encode: TokenEncoder, sentences: Sequence[list[str]], tags: Sequence[list[int]] | None = None,
    contexts: Sequence[Context] | None = None,
) -> list[EncodedSentence]:
    """:meth:`TokenEncoder.encode_sentences` :data:`SPLIT_CHUNK` sentences at a time: each
    sentence's characters are a slice of its chunk's (tokens, longest word) tensor, which it keeps
    alive, so a corpus encoded at once would hold one tensor as wide as its longest word."""
    chunk = lambda rows, start: None if rows is None else rows[start : start + SPLIT_CHUNK]  # noqa: E731
    return [
        sentence
        for start in range(0, len(sentences), SPLIT_CHUNK)
        for sentence in encode.encode_sentences(chunk(sentences, start), chunk(tags, start), chunk(contexts, start))
    ]
