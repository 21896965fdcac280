"""Sentences → id tensors: word, character, casing and tag ids, computed once per split with a
batched ``datasets.map``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from birnn_tag.config import EncodingConfig
from birnn_tag.data.token_ids import TokenIds
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError

if TYPE_CHECKING:  # `predict` encodes without `datasets`, and importing it costs 0.6 s
    import datasets


@dataclass
class EncodedSentence:
    """One sentence as tensors: ``words`` (T,), ``chars`` (T, W) with 0-padding, ``tags`` (T,).

    ``chars`` is None for models without a character encoder, ``tags`` for untagged text.
    ``tokens`` are the words as written, which contextual features read; ``context`` holds, per
    contextual source of the model, its cached (T, layers, dim) features, or None where the
    model computes them from the tokens as it goes (a fine-tuned transformer).
    """

    words: torch.Tensor
    chars: torch.Tensor | None
    tags: torch.Tensor | None = None
    casing: torch.Tensor | None = None
    tokens: list[str] | None = None
    context: list[torch.Tensor | None] | None = None

    def __len__(self) -> int:
        return self.words.shape[0]


def encode_tags(tags: list[str], vocabs: Vocabularies, where: str) -> list[int]:
    """Label ids; a label the model was not trained on is an error naming its sentence."""
    try:
        return [vocabs.labels.id(tag) for tag in tags]
    except KeyError as error:
        known = ", ".join(vocabs.labels.items)
        raise DataError(f"{where}: label {error.args[0]!r} was not seen in training (known: {known})") from None


class TokenEncoder(TokenIds):
    """:class:`~birnn_tag.data.token_ids.TokenIds` that also builds the tensors a model reads."""

    def encode_sentences(self, sentences: Sequence[list[str]]) -> list[EncodedSentence]:
        """Untagged sentences as tensors, the same as :meth:`ids` gives for each, built together:
        each distinct token is looked up once, and the per-sentence tensors are slices of a few
        whole-batch tensors (one ``torch.tensor`` per sentence and field was a large share of
        prediction time)."""
        slots: dict[str, int] = {}  # distinct token → its row in the tables below
        slot_of_token = [slots.setdefault(token, len(slots)) for tokens in sentences for token in tokens]
        rows = torch.tensor(slot_of_token, dtype=torch.long)  # (tokens,)
        entries = [self.lookup(token) for token in slots]
        width = max((len(chars) for _, _, chars in entries), default=1)
        words = torch.tensor([word for word, _, _ in entries], dtype=torch.long)[rows]  # (tokens,)
        casing = torch.tensor([shape for _, shape, _ in entries], dtype=torch.long)[rows]  # (tokens,)
        padded = [chars + [0] * (width - len(chars)) for _, _, chars in entries]
        chars = torch.tensor(padded, dtype=torch.long)  # (distinct tokens, width)
        word_widths = torch.tensor([len(chars) for _, _, chars in entries], dtype=torch.long)[rows]  # (tokens,)
        lengths = [len(tokens) for tokens in sentences]
        owner = torch.repeat_interleave(torch.arange(len(sentences)), torch.tensor(lengths, dtype=torch.long))
        widths = torch.zeros(len(sentences), dtype=torch.long).scatter_reduce_(0, owner, word_widths, "amax")
        parts = zip(words.split(lengths), chars[rows].split(lengths), casing.split(lengths), widths.tolist())
        # Each sentence's characters are cut to its own longest word, as ids() pads them.
        return [
            EncodedSentence(words=w, chars=c[:, :widest], casing=k, tokens=tokens)
            for (w, c, k, widest), tokens in zip(parts, sentences)
        ]


def to_tensors(
    words: list[int], chars: list[list[int]], casing: list[int], tags: list[int] | None = None
) -> EncodedSentence:
    """An :class:`EncodedSentence` from id lists (see :meth:`TokenEncoder.ids`)."""
    return EncodedSentence(
        words=torch.tensor(words, dtype=torch.long),
        chars=torch.tensor(chars, dtype=torch.long),
        tags=None if tags is None else torch.tensor(tags, dtype=torch.long),
        casing=torch.tensor(casing, dtype=torch.long),
    )


def encode_split(dataset: datasets.Dataset, vocabs: Vocabularies, config: EncodingConfig) -> list[EncodedSentence]:
    """Encode a prepared split (columns tokens, optional tags, where) into tensors; the ids are
    computed by a batched ``datasets.map``."""
    from birnn_tag.data.reading.sources import map_batched

    encode = TokenEncoder(vocabs, config)
    has_tags = "tags" in dataset.column_names

    def to_ids(batch: dict) -> dict:
        words, chars, casing = zip(*(encode.ids(tokens) for tokens in batch["tokens"])) if batch["tokens"] else ((), (), ())
        out = {"word_ids": list(words), "char_ids": list(chars), "casing_ids": list(casing)}
        if has_tags:
            out["tag_ids"] = [encode_tags(tags, vocabs, where) for tags, where in zip(batch["tags"], batch["where"])]
        return out

    encoded = map_batched(dataset, to_ids, remove_columns=dataset.column_names)
    columns = [encoded[name] for name in ("word_ids", "char_ids", "casing_ids")]
    tags = encoded["tag_ids"] if has_tags else [None] * len(encoded)
    sentences = [to_tensors(*row, tag_ids) for *row, tag_ids in zip(*columns, tags)]
    for sentence, tokens in zip(sentences, dataset["tokens"]):
        sentence.tokens = tokens
    return sentences
