"""The tagging data pipeline: config → corpus → cleaned splits → vocabularies → encoded tensors."""

from __future__ import annotations

from dataclasses import dataclass

from birnn_tag.config import Config
from birnn_tag.data.encoding import EncodedSentence, encode_split
from birnn_tag.data.preparation import prepare_corpus
from birnn_tag.data.sources import load_corpus
from birnn_tag.data.vocab import Vocabularies


@dataclass
class Split:
    """An encoded split, plus its gold tags (in the training scheme) when it has any."""

    sentences: list[EncodedSentence]
    tags: list[list[str]] | None = None


def load_tagging_splits(config: Config, vocabs: Vocabularies | None = None) -> tuple[Vocabularies, dict[str, Split]]:
    """Load, clean and encode every configured split; build vocabularies from train unless given."""
    prepared = prepare_corpus(load_corpus(config.data), config.data)
    if vocabs is None:
        vocabs = Vocabularies.build(prepared["train"]["tokens"], prepared["train"]["tags"], config.encoding)
    splits = {
        name: Split(encode_split(dataset, vocabs, config.encoding), dataset["tags"])
        for name, dataset in prepared.items()
    }
    return vocabs, splits
