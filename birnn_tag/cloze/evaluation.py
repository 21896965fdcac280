"""Cloze scores: top-1/5/10 accuracy and perplexity of every (or a sampled fraction of) word
given both sides of its context.

``<unk>`` targets are excluded by default (predicting "some rare word" is not filling a blank);
``count_unk=True`` scores them like any word. The report says which.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.table import Table

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.cloze.text import chunk_tokens, encode_cloze_splits, encode_words, read_cloze_sources, read_text_file
from birnn_tag.config import Config
from birnn_tag.contracts import Confusion
from birnn_tag.data.batching import iterate_batches
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError
from birnn_tag.nn.modes import evaluating

TOP_K = (1, 5, 10)
_ROWS_PER_STEP = 2048  # positions scored at once: bounds the (positions, vocabulary) log-prob matrix


@dataclass(frozen=True)
class ClozeReport:
    """Top-k accuracies (by k in :data:`TOP_K`, in [0, 1]) and perplexity over the scored
    ``positions``; whether ``<unk>`` targets were counted, and the ``fraction`` of positions scored."""

    accuracy: dict[int, float]
    perplexity: float
    positions: int
    count_unk: bool
    fraction: float

    @property
    def score(self) -> float:
        """What early stopping maximises: top-1 accuracy."""
        return self.accuracy[1]

    def summary(self) -> dict[str, float]:
        """Top-k accuracies (``top1``...) and perplexity: a metrics record's ``dev_*`` numbers."""
        return {**{f"top{k}": v for k, v in self.accuracy.items()}, "perplexity": self.perplexity}

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: :meth:`summary`, the positions scored and how."""
        return {
            **self.summary(),
            "positions": self.positions,
            "unk_targets": "counted" if self.count_unk else "excluded",
            "fraction": self.fraction,
        }

    def save(self, stem: Path) -> None:
        """Write ``<stem>.json`` and a one-table ``<stem>.txt``."""
        stem.with_name(stem.name + ".json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        lines = [f"{key}: {value}" for key, value in self.to_dict().items()]
        stem.with_name(stem.name + ".txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def table(self, title: str) -> Table:
        """One row: the top-k accuracies (%), perplexity and positions."""
        table = Table(title=title)
        for column in [f"top-{k}" for k in TOP_K] + ["perplexity", "positions"]:
            table.add_column(column, justify="right")
        table.add_row(
            *[f"{100 * self.accuracy[k]:.2f}" for k in TOP_K], f"{self.perplexity:.1f}", f"{self.positions:,}"
        )
        table.caption = f"<unk> targets {'counted' if self.count_unk else 'excluded'}; {100 * self.fraction:g}% of positions"
        return table

    def confusion(self) -> Confusion | None:
        """None: a cloze model's classes are the vocabulary's words, too many to confuse in a table."""
        return None


@torch.inference_mode()
def score_cloze(
    model: torch.nn.Module,
    split: Split,
    vocabs: Vocabularies,
    config: Config,
    device: torch.device,
    *,
    fraction: float = 1.0,
    count_unk: bool = False,
    seed: int = 0,
) -> ClozeReport:
    """Score every position (or a random ``fraction`` of them, fixed by ``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    hits = dict.fromkeys(TOP_K, 0)
    total_nll, positions = 0.0, 0
    with evaluating(model):
        for batch in iterate_batches(split.sentences, config.training.eval_batch_size):
            mask = batch.mask.clone()
            if not count_unk:
                mask &= batch.word_ids != vocabs.words.unk_id
            if fraction < 1.0:
                mask &= torch.rand(mask.shape, generator=generator) < fraction
            if not mask.any():
                continue
            batch = batch.to(device)
            features = model.features(batch.word_ids, batch.lengths)[mask.to(device)]  # (positions, width)
            targets = batch.word_ids[mask.to(device)]  # (positions,)
            for start in range(0, len(targets), _ROWS_PER_STEP):
                log_probs = model.output.log_probs(features[start : start + _ROWS_PER_STEP]).float()  # (rows, words)
                gold = targets[start : start + _ROWS_PER_STEP]
                total_nll -= log_probs.gather(1, gold[:, None]).sum().item()
                best = log_probs.topk(max(TOP_K), dim=1).indices  # (rows, 10)
                for k in TOP_K:
                    hits[k] += (best[:, :k] == gold[:, None]).any(dim=1).sum().item()
            positions += len(targets)
    if positions == 0:
        return ClozeReport(dict.fromkeys(TOP_K, 0.0), float("inf"), 0, count_unk, fraction)
    accuracy = {k: hits[k] / positions for k in TOP_K}
    return ClozeReport(accuracy, math.exp(total_nll / positions), positions, count_unk, fraction)


def evaluate_cloze_checkpoint(
    loaded: LoadedModel,
    *,
    split: str = "test",
    data_file: str | None = None,
    fraction: float = 1.0,
    count_unk: bool = False,
    device: torch.device,
) -> ClozeReport:
    """Score a trained cloze model on a split of its configured text, or on another text file."""
    config = loaded.config
    if data_file is not None:
        chunks = chunk_tokens(read_text_file(data_file, config.data), config.data, data_file)
    else:
        _, splits = encode_cloze_splits(config, read_cloze_sources(config.data), loaded.vocabs)
        if split not in splits:
            raise DataError(f"no {split!r} split in the run's data (have: {', '.join(splits)})")
        return score_cloze(loaded.model, splits[split], loaded.vocabs, config, device, fraction=fraction, count_unk=count_unk)
    sentences = [encode_words(tokens, loaded.vocabs, config) for tokens in chunks["tokens"]]
    return score_cloze(loaded.model, Split(sentences), loaded.vocabs, config, device, fraction=fraction, count_unk=count_unk)
