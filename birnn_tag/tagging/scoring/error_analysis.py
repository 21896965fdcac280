"""What kind of errors a span tagger makes.

Every false positive (a predicted span without an exact gold match) and every false negative (a
gold span without an exact predicted match) gets one kind, by what it overlaps on the other side:

- *wrong type*: a span with the same boundaries and another type;
- *wrong boundary*: an overlapping span of the same type;
- *wrong type and boundary*: an overlapping span of another type only;
- *missed* (false negatives) / *spurious* (false positives): no overlap at all.

So the kinds' counts add up to FP + FN; an error such as PER predicted for a LOC is one false
positive and one false negative, both *wrong type*. Also: the most confused type pairs (gold →
predicted, same boundaries or overlapping), F1 by sentence length and by whether every word of
an entity was in the training vocabulary, and a few examples of each kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from birnn_tag.contracts import Confusion
from birnn_tag.tagging.data import schemes

KINDS = ("missed", "spurious", "wrong type", "wrong boundary", "wrong type and boundary")
LENGTH_BUCKETS = ((1, 10), (11, 20), (21, 40), (41, None))
EXAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class ErrorAnalysis:
    """Counts per kind (``false_positives``, ``false_negatives``), confused type pairs, F1 by
    sentence length and by seen / unseen entity words, and examples per kind."""

    false_positives: dict[str, int]
    false_negatives: dict[str, int]
    confusions: list[tuple[str, str, int]]
    by_length: dict[str, dict[str, float]]
    by_words: dict[str, dict[str, float]]
    examples: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON form, as a report's ``errors``."""
        return {
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "confusions": [{"gold": gold, "predicted": predicted, "count": count} for gold, predicted, count in self.confusions],
            "f1_by_sentence_length": self.by_length,
            "f1_by_entity_words": self.by_words,
            "examples": self.examples,
        }

    def text(self) -> str:
        """The analysis as the text report's section."""
        lines = ["errors by kind (false positives / false negatives; together FP + FN):"]
        for kind in KINDS:
            lines.append(f"  {kind:<24} {self.false_positives[kind]:>6} / {self.false_negatives[kind]:<6}")
        if self.confusions:
            lines.append("most confused types (gold → predicted): " + ", ".join(f"{g} → {p} {n}" for g, p, n in self.confusions))
        for title, table in (("F1 by sentence length (tokens)", self.by_length), ("F1 by entity words", self.by_words)):
            cells = [f"{name}: {100 * row['f1']:.2f} ({int(row['gold'])} gold)" for name, row in table.items()]
            lines.append(f"{title}: " + "; ".join(cells))
        for kind in KINDS:
            for example in self.examples.get(kind, []):
                lines.append(f"  e.g. {kind}: {example}")
        return "\n".join(lines) + "\n"


def analyze_errors(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    seen: Sequence[Sequence[bool]],
    scheme: str,
) -> ErrorAnalysis:
    """Classify the span errors of predicted tags against gold tags (both in ``scheme``); ``seen``
    marks the tokens whose word was in the training vocabulary."""
    false_positives, false_negatives = Counter({kind: 0 for kind in KINDS}), Counter({kind: 0 for kind in KINDS})
    confusions: Counter = Counter()
    by_length: dict[str, list[int]] = {_bucket_name(bucket): [0, 0, 0] for bucket in LENGTH_BUCKETS}
    by_words: dict[str, list[int]] = {"all words seen in training": [0, 0, 0], "some word unseen": [0, 0, 0]}
    examples: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for words, gold_tags, predicted_tags, known in zip(tokens, gold, predicted, seen):
        gold_spans = set(schemes.to_spans(gold_tags, scheme))
        predicted_spans = set(schemes.to_spans(predicted_tags, scheme))
        hits = gold_spans & predicted_spans
        _add(by_length[_bucket_name(_bucket(len(words)))], len(hits), len(predicted_spans), len(gold_spans))
        for span in gold_spans | predicted_spans:
            group = "all words seen in training" if all(known[span[1] : span[2]]) else "some word unseen"
            _add(by_words[group], span in hits, span in predicted_spans, span in gold_spans)
        for span in predicted_spans - hits:
            kind, other = _kind(span, gold_spans - hits, "spurious")
            false_positives[kind] += 1
            if other is not None and other[0] != span[0]:
                confusions[other[0], span[0]] += 1
            if len(examples[kind]) < EXAMPLES_PER_KIND:
                examples[kind].append(_example(words, span, other, gold=False))
        for span in gold_spans - hits:
            kind, other = _kind(span, predicted_spans - hits, "missed")
            false_negatives[kind] += 1
            if kind == "missed" and len(examples[kind]) < EXAMPLES_PER_KIND:
                examples[kind].append(_example(words, span, None, gold=True))
    return ErrorAnalysis(
        dict(false_positives), dict(false_negatives),
        [(g, p, n) for (g, p), n in confusions.most_common(5)],
        {name: _f1_row(counts) for name, counts in by_length.items()},
        {name: _f1_row(counts) for name, counts in by_words.items()},
        {kind: found for kind, found in examples.items() if found},
    )


def _kind(span: schemes.Span, others: set[schemes.Span], alone: str) -> tuple[str, schemes.Span | None]:
    """The kind of an unmatched span given the other side's unmatched spans, and the span that
    decided it (None when it overlaps nothing)."""
    kind, start, end = span
    overlapping = sorted(other for other in others if other[1] < end and start < other[2])
    for other in overlapping:
        if (other[1], other[2]) == (start, end):
            return "wrong type", other
    for other in overlapping:
        if other[0] == kind:
            return "wrong boundary", other
    if overlapping:
        return "wrong type and boundary", overlapping[0]
    return alone, None


def _example(words: Sequence[str], span: schemes.Span, other: schemes.Span | None, *, gold: bool) -> str:
    """``"…context [span] context…" predicted TYPE, gold TYPE "[other]"`` for the text report."""
    kind, start, end = span
    left, right = max(0, start - 4), min(len(words), end + 4)
    context = " ".join([*words[left:start], "[" + " ".join(words[start:end]) + "]", *words[end:right]])
    side = "gold" if gold else "predicted"
    described = f'"{context}" {side} {kind}'
    if other is not None:
        described += f', {"predicted" if gold else "gold"} {other[0]} "{" ".join(words[other[1]:other[2]])}"'
    return described


def _add(counts: list[int], hits: int, predicted: int, gold: int) -> None:
    counts[0] += hits
    counts[1] += predicted
    counts[2] += gold


def _f1_row(counts: list[int]) -> dict[str, float]:
    hits, predicted, gold = counts
    return {"f1": 2 * hits / (predicted + gold) if predicted + gold else 0.0, "predicted": predicted, "gold": gold}


def _bucket(length: int) -> tuple[int, int | None]:
    return next(bucket for bucket in LENGTH_BUCKETS if bucket[1] is None or length <= bucket[1])


def _bucket_name(bucket: tuple[int, int | None]) -> str:
    low, high = bucket
    return f"{low}+" if high is None else f"{low}-{high}"


NONE = "(none)"


def confusion_matrix(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str
) -> Confusion:
    """Gold × predicted counts and the row and column names. Span schemes: entity types, each
    gold span paired with the predicted span of the same boundaries, else the first overlapping
    one, else ``(none)`` (missed); a predicted span paired with no gold span is a ``(none)`` row
    (spurious). Labels without spans: tokens."""
    pairs: Counter = Counter()
    for gold_tags, predicted_tags in zip(gold, predicted):
        if scheme == schemes.NO_SPANS:
            pairs.update(zip(gold_tags, predicted_tags))
            continue
        gold_spans = sorted(schemes.to_spans(gold_tags, scheme), key=lambda s: s[1])
        predicted_spans = sorted(schemes.to_spans(predicted_tags, scheme), key=lambda s: s[1])
        paired = set()
        for kind, start, end in gold_spans:
            same = [p for p in predicted_spans if (p[1], p[2]) == (start, end)]
            overlapping = same or [p for p in predicted_spans if p[1] < end and start < p[2]]
            if overlapping:
                paired.add(overlapping[0])
            pairs[kind, overlapping[0][0] if overlapping else NONE] += 1
        pairs.update((NONE, p[0]) for p in predicted_spans if p not in paired)
    rows = sorted({g for g, _ in pairs} - {NONE}) + ([NONE] if any(g == NONE for g, _ in pairs) else [])
    columns = sorted({p for _, p in pairs} - {NONE}) + ([NONE] if any(p == NONE for _, p in pairs) else [])
    return Confusion([[pairs[g, p] for p in columns] for g in rows], rows, columns)
