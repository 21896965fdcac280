"""Is run B better than run A? A paired bootstrap over sentences.

Both sides are scored on the same sentences. Each bootstrap sample draws ``n`` of the ``n``
sentences with replacement, the same draw for every run, and recomputes each run's score (entity
F1, or token accuracy for labels without spans) from the drawn sentences' counts; with several runs
per side (seeds), a side's score is the mean of its runs'. The spread of B − A over the samples
gives a 95 % interval, and the two-sided p-value is twice the share of samples on the far side of
zero (at most 1): the chance of a difference of the other sign under resampling of the test set.
Scores are computed from entity spans, so runs trained in different schemes (IOB2, BIOES) compare.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rich.table import Table

from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.loading import load_model
from birnn_tag.tagging.data import schemes
from birnn_tag.tagging.scoring.evaluation import split_predictions
from birnn_tag.tagging.network.tagger import Tagger

OVERALL = "overall"


@dataclass(frozen=True)
class Difference:
    """One score (overall or one type's) on both sides: each side's mean over its runs on the whole
    split, B − A, its 95 % bootstrap interval and p-value."""

    name: str
    a: float
    b: float
    difference: float
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class Comparison:
    """What ``birnn-tag compare`` reports."""

    metric: str
    sentences: int
    samples: int
    seed: int
    runs_a: list[str]
    runs_b: list[str]
    scores_a: list[float]
    scores_b: list[float]
    overall: Difference
    by_type: list[Difference]

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self, title: str) -> Table:
        """The comparison as a rich table: overall first, then each type."""
        table = Table(title=title)
        for column in ("", "A", "B", "B − A", "95 % interval", "p"):
            table.add_column(column, justify="left" if not column else "right")
        for index, row in enumerate([self.overall, *self.by_type]):
            table.add_row(
                row.name, f"{100 * row.a:.2f}", f"{100 * row.b:.2f}", f"{100 * row.difference:+.2f}",
                f"[{100 * row.low:+.2f}, {100 * row.high:+.2f}]", f"{row.p_value:.3f}", end_section=index == 0,
            )
        sides = [f"{side}: {_spread(scores)} over {len(scores)} run(s)" for side, scores in (("A", self.scores_a), ("B", self.scores_b))]
        table.caption = f"{self.metric} ×100; {'; '.join(sides)}; paired bootstrap, {self.samples:,} samples of {self.sentences:,} sentences, seed {self.seed}"
        return table


def _spread(scores: Sequence[float]) -> str:
    mean = float(np.mean(scores))
    return f"{100 * mean:.2f} ± {100 * float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0:.2f}"


def sentence_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str, classes: Sequence[str]) -> np.ndarray:
    """(sentences, classes + 1, 3) counts: for each class (an entity type, or a label for
    ``scheme`` none) and then overall, true positives, predicted and gold items. Without spans the
    overall row counts (correct tokens, tokens, tokens), so its "F1" is the token accuracy."""
    index = {name: position for position, name in enumerate(classes)}
    counts = np.zeros((len(gold), len(classes) + 1, 3), dtype=np.int64)
    for row, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if scheme == schemes.NO_SPANS:
            gold_items = {(tag, position) for position, tag in enumerate(gold_tags)}
            predicted_items = {(tag, position) for position, tag in enumerate(predicted_tags)}
        else:
            gold_items = {(kind, start, end) for kind, start, end in schemes.to_spans(gold_tags, scheme)}
            predicted_items = {(kind, start, end) for kind, start, end in schemes.to_spans(predicted_tags, scheme)}
        for column, items in ((0, gold_items & predicted_items), (1, predicted_items), (2, gold_items)):
            for item in items:
                counts[row, index[item[0]], column] += 1
        counts[row, -1] = counts[row, :-1].sum(axis=0)
    return counts


def scores_of(summed: np.ndarray) -> np.ndarray:
    """F1 from summed (…, 3) counts (true positives, predicted, gold); 0 where there is nothing."""
    denominator = summed[..., 1] + summed[..., 2]
    return np.divide(2 * summed[..., 0], denominator, out=np.zeros(denominator.shape), where=denominator > 0)


SAMPLES_PER_BLOCK = 100  # bootstrap samples drawn at once: bounds memory at 100 × sentences counts


def resample_weights(sentences: int, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of (≤ :data:`SAMPLES_PER_BLOCK`, sentences): how often each sentence is drawn in
    each bootstrap sample; the same seed gives the same draws."""
    generator = np.random.default_rng(seed)
    for start in range(0, samples, SAMPLES_PER_BLOCK):
        size = min(SAMPLES_PER_BLOCK, samples - start)
        draws = generator.integers(0, sentences, size=(size, sentences))
        weights = np.zeros((size, sentences), dtype=np.int64)
        np.add.at(weights, (np.arange(size)[:, None], draws), 1)
        yield weights


def paired_bootstrap(
    counts_a: Sequence[np.ndarray], counts_b: Sequence[np.ndarray], blocks: Iterable[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each side's mean score per sample and class, (samples, classes + 1), from per-run
    :func:`sentence_counts` and :func:`resample_weights` (the same draws for every run)."""

    def side(counts: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
        return np.mean([scores_of(np.einsum("sn,nck->sck", weights, run)) for run in counts], axis=0)

    sides = [(side(counts_a, weights), side(counts_b, weights)) for weights in blocks]
    return np.concatenate([a for a, _ in sides]), np.concatenate([b for _, b in sides])


def compare_predictions(
    gold: Sequence[Sequence[str]],
    predictions_a: Sequence[Sequence[Sequence[str]]],
    predictions_b: Sequence[Sequence[Sequence[str]]],
    scheme: str,
    *,
    runs_a: Sequence[str],
    runs_b: Sequence[str],
    samples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Compare two sides' predicted tags (one list of sentences per run) against the same gold tags."""
    if samples < 1:
        raise BirnnTagError(f"--samples: must be at least 1, got {samples}")
    predictions = [*predictions_a, *predictions_b]
    if scheme == schemes.NO_SPANS:
        classes = sorted({tag for sentences in (gold, *predictions) for row in sentences for tag in row})
    else:
        classes = sorted({kind for sentences in (gold, *predictions) for row in sentences for kind, _, _ in schemes.to_spans(row, scheme)})
    counts = [sentence_counts(gold, predicted, scheme, classes) for predicted in predictions]
    counts_a, counts_b = counts[: len(predictions_a)], counts[len(predictions_a) :]
    full_a = np.mean([scores_of(run.sum(axis=0)) for run in counts_a], axis=0)  # (classes + 1,)
    full_b = np.mean([scores_of(run.sum(axis=0)) for run in counts_b], axis=0)
    sampled_a, sampled_b = paired_bootstrap(counts_a, counts_b, resample_weights(len(gold), samples, seed))
    differences = sampled_b - sampled_a  # (samples, classes + 1)
    rows = []
    for column, name in enumerate([*classes, OVERALL]):
        spread = differences[:, column]
        low, high = np.percentile(spread, [2.5, 97.5])
        p_value = min(1.0, 2 * min(float(np.mean(spread <= 0)), float(np.mean(spread >= 0))))
        rows.append(Difference(name, float(full_a[column]), float(full_b[column]), float(full_b[column] - full_a[column]), float(low), float(high), p_value))
    # Spans are read as conlleval reads them: for valid sequences (constrained decoding, the
    # default) that is seqeval's strict score; unconstrained output may differ slightly.
    metric = "token accuracy" if scheme == schemes.NO_SPANS else "entity micro F1"
    return Comparison(
        metric, len(gold), samples, seed, list(runs_a), list(runs_b),
        [float(scores_of(run.sum(axis=0))[-1]) for run in counts_a],
        [float(scores_of(run.sum(axis=0))[-1]) for run in counts_b],
        rows[-1], rows[:-1],
    )


def compare_runs(
    runs_a: Sequence[str | Path],
    runs_b: Sequence[str | Path],
    *,
    split: str = "test",
    data_file: str | None = None,
    samples: int = 1000,
    seed: int = 0,
    device: torch.device,
) -> Comparison:
    """Tag one split of the runs' data (or ``data_file``) with every run and compare the sides.

    Span runs are compared in IOB2 whatever their own schemes; every run must score the same
    sentences with the same gold tags, and all runs must be span runs or all label runs.
    """
    if not runs_a or not runs_b:
        raise BirnnTagError("compare: give at least one run on each side (RUN_A RUN_B, or --a RUNS... --b RUNS...)")
    golds, predictions, kinds = [], [], {}
    for run in [*runs_a, *runs_b]:
        loaded = load_model(run, device)
        if not isinstance(loaded.model, Tagger):
            raise BirnnTagError(f"compare: {run} is a {loaded.config.task} run; compare scores tagging runs")
        gold, predicted = split_predictions(loaded, split=split, data_file=data_file, device=device)
        scheme = loaded.config.data.scheme
        if scheme != schemes.NO_SPANS:
            gold = [schemes.convert(tags, scheme, "IOB2") for tags in gold]
            predicted = [schemes.convert(tags, scheme, "IOB2") for tags in predicted]
            scheme = "IOB2"
        kinds[str(run)] = scheme
        golds.append(gold)
        predictions.append(predicted)
    if len(set(kinds.values())) > 1:
        raise BirnnTagError(f"compare: span runs and runs without spans cannot be compared ({', '.join(f'{r}: {s}' for r, s in kinds.items())})")
    first = str(runs_a[0])
    for run, gold in zip([*runs_a, *runs_b], golds):
        if gold != golds[0]:
            raise BirnnTagError(f"compare: {run} scores other sentences or gold tags than {first}; give --data FILE to score one file")
    return compare_predictions(
        golds[0], predictions[: len(runs_a)], predictions[len(runs_a) :], next(iter(kinds.values())),
        runs_a=[str(r) for r in runs_a], runs_b=[str(r) for r in runs_b], samples=samples, seed=seed,
    )
