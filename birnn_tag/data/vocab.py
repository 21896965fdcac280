"""Word, character and label vocabularies, built from the training split only."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from birnn_tag.config import EncodingConfig

PAD, UNK = "<pad>", "<unk>"
# Their ids in word and character vocabularies; padding in batches and embeddings is PAD_ID too.
PAD_ID, UNK_ID = 0, 1
_DIGIT = re.compile(r"\d")


class Vocab:
    """A bijection between strings and ids. Word/char vocabularies reserve 0 = PAD and 1 = UNK."""

    def __init__(self, items: Iterable[str], *, specials: bool = True) -> None:
        self.items: list[str] = ([PAD, UNK] if specials else []) + [
            item for item in items if not specials or item not in (PAD, UNK)
        ]
        self.index = {item: i for i, item in enumerate(self.items)}
        self.unk_id = UNK_ID if specials else None

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    def id(self, item: str) -> int:
        """The id of ``item``; UNK for unknown items (KeyError when there is no UNK)."""
        found = self.index.get(item, self.unk_id)
        if found is None:
            raise KeyError(item)
        return found

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Items seen at least ``min_freq`` times, most frequent first (ties alphabetical),
        at most ``max_size`` of them (PAD and UNK included)."""
        ordered = sorted((item for item, n in counts.items() if n >= min_freq), key=lambda i: (-counts[i], i))
        ordered = [item for item in ordered if item not in (PAD, UNK)]  # so max_size counts them once
        return cls(ordered if max_size is None else ordered[: max(0, max_size - 2)])


def normalize_word(token: str, config: EncodingConfig) -> str:
    """The form a token is looked up under in the word vocabulary."""
    if config.lowercase:
        token = token.lower()
    if config.normalize_digits:
        token = _DIGIT.sub("0", token)
    return token


@dataclass
class Vocabularies:
    """Everything needed to turn sentences into ids and predicted ids back into tags.

    ``trained_words``: how many of the first word ids (PAD and UNK included) came from the
    training split; the rest are pretrained-only words (``encoding.include_pretrained``) that the
    model never saw in a training sentence.
    """

    words: Vocab
    chars: Vocab
    labels: Vocab
    trained_words: int | None = None

    def __post_init__(self) -> None:
        if self.trained_words is None:  # runs saved before it was recorded: every word counts
            self.trained_words = len(self.words)

    def seen_in_training(self, word_id: int) -> bool:
        """Whether a word id stands for a word of the training split (not PAD, UNK or a
        pretrained-only word)."""
        return UNK_ID < word_id < self.trained_words

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        tags: Iterable[list[str]],
        config: EncodingConfig,
        extra_words: Iterable[str] = (),
    ) -> Vocabularies:
        """Count words, characters and labels over the training sentences; ``extra_words``
        (already normalised, e.g. pretrained words seen in other splits) are appended."""
        word_counts: Counter = Counter()
        char_counts: Counter = Counter()
        for tokens in sentences:
            word_counts.update(normalize_word(token, config) for token in tokens)
            for token in tokens:
                char_counts.update(token[: config.max_word_length])
        label_set = {tag for row in tags for tag in row}
        # "O" first, then types grouped: stable ids make checkpoints and reports easy to read.
        labels = sorted(label_set, key=lambda tag: (tag != "O", tag[2:], tag))
        trained = Vocab.from_counts(word_counts, config.min_freq, config.max_size)
        words = Vocab(trained.items + sorted(set(extra_words) - set(trained.items)))
        return cls(words, Vocab.from_counts(char_counts), Vocab(labels, specials=False), len(trained))

    def to_dict(self) -> dict[str, list[str] | int]:
        return {
            "words": self.words.items, "chars": self.chars.items, "labels": self.labels.items,
            "trained_words": self.trained_words,
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[str] | int]) -> Vocabularies:
        return cls(
            Vocab(data["words"]), Vocab(data["chars"]), Vocab(data["labels"], specials=False), data.get("trained_words")
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
