"""The tagging data pipeline: config → corpus → cleaned splits → vocabularies → encoded tensors."""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from birnn_tag.config import Config
from birnn_tag.data.encoding import EncodedSentence, encode_split
from birnn_tag.data.preparation import prepare_corpus
from birnn_tag.data.sources import load_corpus
from birnn_tag.data.pretrained import pretrained_words
from birnn_tag.data.vocab import Vocabularies, normalize_word
from birnn_tag.errors import ConfigError


@dataclass
class Split:
    """An encoded split, plus its gold tags (in the training scheme) when it has any."""

    sentences: list[EncodedSentence]
    tags: list[list[str]] | None = None


def pretrained_in_splits(prepared: datasets.DatasetDict, config: Config) -> set[str]:
    """Normalised words of any split that have a pretrained vector (exact or lowercased).

    Adding them to the vocabulary (Lample et al. 2016) lets dev/test words keep their pretrained
    vector instead of becoming ``<unk>``; no label or gold information is used.
    """
    if not config.model.embeddings:
        raise ConfigError("encoding.include_pretrained: needs model.embeddings (a vectors file)")
    available = pretrained_words(config.model.embeddings)
    found = set()
    for dataset in prepared.values():
        for tokens in dataset["tokens"]:
            for token in tokens:
                word = normalize_word(token, config.encoding)
                if word in available or word.lower() in available:
                    found.add(word)
    return found


def load_tagging_splits(config: Config, vocabs: Vocabularies | None = None) -> tuple[Vocabularies, dict[str, Split]]:
    """Load, clean and encode every configured split; build vocabularies from train unless given."""
    prepared = prepare_corpus(load_corpus(config.data), config.data)
    if vocabs is None:
        extra = pretrained_in_splits(prepared, config) if config.encoding.include_pretrained else set()
        vocabs = Vocabularies.build(prepared["train"]["tokens"], prepared["train"]["tags"], config.encoding, extra)
    splits = {
        name: Split(encode_split(dataset, vocabs, config.encoding), dataset["tags"])
        for name, dataset in prepared.items()
    }
    return vocabs, splits
