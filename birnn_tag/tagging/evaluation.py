"""Entity-level scores with seqeval (strict mode, the training scheme) plus token accuracy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
from rich.table import Table
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, IOBES

from birnn_tag.checkpoint import LoadedModel
from birnn_tag.config import Config
from birnn_tag.data.pieces import join_pieces
from birnn_tag.data.sources import Corpus, load_corpus, read_file
from birnn_tag.data.split import Split
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import DataError
from birnn_tag.tagging.inference import decode_sentences
from birnn_tag.tagging.pipeline import tagging_split
from birnn_tag.tagging.preparation import clean_split, cut_sentences
from birnn_tag.tagging.schemes import seqeval_scheme
from birnn_tag.tagging.tagger import Tagger

_SEQEVAL_SCHEMES = {"IOB2": IOB2, "IOBES": IOBES}
AVERAGES = ("micro avg", "macro avg", "weighted avg")


@dataclass
class Report:
    """seqeval's strict-mode per-type and averaged scores (the headline), the conlleval-compatible
    micro scores (seqeval's default mode), token accuracy, and the scheme they were computed in.

    The two modes differ only on invalid tag sequences: conlleval reads ``O I-PER`` as an entity,
    strict mode does not. With constrained decoding (the default) predictions are always valid.
    """

    scores: dict[str, dict[str, float]]
    conlleval: dict[str, float]
    token_accuracy: float
    scheme: str
    text: str

    @property
    def f1(self) -> float:
        """Micro-averaged entity F1 (the headline number), in [0, 1]."""
        return self.scores["micro avg"]["f1-score"]

    @property
    def score(self) -> float:
        """What early stopping maximises: micro F1."""
        return self.f1

    def summary(self) -> dict[str, float]:
        """The numbers logged per epoch in metrics.jsonl."""
        return {"f1": self.f1, "conlleval_f1": self.conlleval["f1-score"], "token_accuracy": self.token_accuracy}

    def table(self, title: str) -> Table:
        """The report as a rich table: one row per entity type, then the averages."""
        return report_table(self, title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "mode": "strict",
            "headline": "strict micro F1",
            "token_accuracy": self.token_accuracy,
            "scores": self.scores,
            "conlleval_micro": self.conlleval,
        }

    def save(self, stem: Path) -> None:
        """Write ``<stem>.txt`` (seqeval's text report) and ``<stem>.json``."""
        stem.with_name(stem.name + ".txt").write_text(
            f"strict {self.scheme} entity scores (seqeval mode='strict'; the headline)\n\n{self.text}\n"
            f"conlleval-compatible micro F1 (seqeval default mode): {self.conlleval['f1-score']:.4f}\n"
            f"token accuracy: {self.token_accuracy:.4f}\n",
            encoding="utf-8",
        )
        stem.with_name(stem.name + ".json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")


def evaluate_tags(gold: list[list[str]], predicted: list[list[str]], scheme: str) -> Report:
    """Score predicted tag sequences against gold ones (both in ``scheme``: IOB2 or BIOES)."""
    mode = _SEQEVAL_SCHEMES[seqeval_scheme(scheme)]
    kwargs = {"mode": "strict", "scheme": mode, "zero_division": 0}
    scores = classification_report(gold, predicted, output_dict=True, **kwargs)
    text = classification_report(gold, predicted, digits=4, **kwargs)
    lenient = classification_report(gold, predicted, output_dict=True, zero_division=0)["micro avg"]
    total = sum(len(row) for row in gold)
    correct = sum(g == p for gold_row, pred_row in zip(gold, predicted) for g, p in zip(gold_row, pred_row))
    scores = {name: {key: float(value) for key, value in row.items()} for name, row in scores.items()}
    conlleval = {key: float(value) for key, value in lenient.items()}
    return Report(scores, conlleval, correct / total if total else 0.0, scheme, text)


def report_table(report: Report, title: str) -> Table:
    """The report as a rich table: one row per entity type, then the averages."""
    table = Table(title=title)
    for column in ("type", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "type" else "right")
    types = sorted(name for name in report.scores if name not in AVERAGES)
    for index, name in enumerate(types + [a for a in AVERAGES if a in report.scores]):
        row = report.scores[name]
        table.add_row(
            name,
            f"{100 * row['precision']:.2f}",
            f"{100 * row['recall']:.2f}",
            f"{100 * row['f1-score']:.2f}",
            str(int(row["support"])),
            end_section=index == len(types) - 1,
        )
    table.caption = (
        f"strict {report.scheme} entity scores (seqeval, the headline); conlleval-compatible "
        f"micro F1 {100 * report.conlleval['f1-score']:.2f}; token accuracy {100 * report.token_accuracy:.2f}%"
    )
    return table


def evaluate_checkpoint(
    loaded: LoadedModel,
    *,
    split: str = "test",
    data_file: str | None = None,
    device: torch.device,
    precision: str | None = None,
) -> Report:
    """Score a trained model on one split of its configured data, or on another file read the
    same way; ``precision`` defaults to the run's ``training.eval_precision``."""
    config = loaded.config
    if data_file is not None:
        dataset = read_file(data_file, config.data)
        corpus = Corpus(datasets.DatasetDict({"test": dataset}), {"test": data_file})
        split = "test"
    else:
        corpus = load_corpus(config.data, only=split)
    sentences = clean_split(corpus, split, config.data)
    if "tags" not in sentences.column_names:
        raise DataError(f"{corpus.origins[split]}: no tags to evaluate against")
    pieces = cut_sentences(sentences, config.data, keep_entities=False)
    tagged = tagging_split(sentences, pieces, loaded.vocabs, config)
    return score_model(loaded.model, tagged, loaded.vocabs, config, device, precision)


def score_model(
    model: Tagger,
    split: Split,
    vocabs: Vocabularies,
    config: Config,
    device: torch.device,
    precision: str | None = None,
) -> Report:
    """Decode a split's pieces, join them back into sentences and score those against the
    sentences' gold tags (at ``precision``, by default ``training.eval_precision``)."""
    training = config.training
    precision = precision or training.eval_precision
    tag_ids, _ = decode_sentences(model, split.sentences, training.eval_batch_size, device, False, precision)
    predicted = [[vocabs.labels.items[i] for i in row] for row in join_pieces(tag_ids, split.pieces)]
    return evaluate_tags(split.tags, predicted, config.data.scheme)
