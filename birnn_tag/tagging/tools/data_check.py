"""``birnn-tag check-data``: read a config's splits as ``train`` would and report what is wrong
or odd in them, before any training.

Errors (a non-zero exit, so it can gate CI): a split that cannot be read (the reader's
``file:line`` message), invalid tag transitions (``O → I-X`` in IOB2 / BIOES), gold labels (entity
types for span schemes) of validation or test that train lacks, character spans (annotation-tool exports) that
``data.misaligned_spans: error`` refuses, every one listed with its line and text. Warnings:
sentences repeated within a split or shared between train and another split, sentences longer
than ``data.max_length``, spans that ``expand`` or ``skip`` leaves out. Information: sizes,
label counts, tokens whose tag is missing (``data.missing_tag``), the detected scheme,
``-DOCSTART-`` lines skipped, and the vocabulary's coverage by the pretrained vectors.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from birnn_tag.config import Config, DataConfig
from birnn_tag.data.reading.conll import DOCSTART
from birnn_tag.data.pretrained import pretrained_words
from birnn_tag.data.reading.sources import Corpus, SplitError, file_format, load_corpus, span_format
from birnn_tag.data.reading.spans import span_problems
from birnn_tag.data.vocab import normalize_word
from birnn_tag.errors import DataError
from birnn_tag.tagging.data import schemes
from birnn_tag.tagging.data.preparation import clean_split, input_scheme, known_tags, resolve_scheme

EXAMPLES = 5  # findings of one kind listed in full; the rest are counted


@dataclass
class Finding:
    """One problem: ``level`` error or warning, the split, what and where."""

    level: str
    split: str
    message: str


@dataclass
class SplitSummary:
    """A split's sizes and labels as read."""

    name: str
    origin: str
    sentences: int = 0
    tokens: int = 0
    scheme: str | None = None
    labels: dict[str, int] = field(default_factory=dict)
    missing_tags: int = 0
    docstart_lines: int | None = None
    over_max_length: int = 0
    duplicates: int = 0


@dataclass
class DataCheck:
    """Every split's summary, the findings, and the vectors' coverage of the training words."""

    training_scheme: str | None
    splits: list[SplitSummary]
    findings: list[Finding]
    coverage: dict[str, int] | None = None

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "warning"]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"errors": len(self.errors), "warnings": len(self.warnings)}

    def table(self) -> RenderableType:
        """The splits as a rich table; the findings and the coverage in its caption. Only the
        findings when no split could be read (the data's one error)."""
        if not self.splits:
            return Text("\n".join(self._caption_lines()))
        table = Table(title=f"data check (training scheme: {self.training_scheme})")
        for column in ("split", "file", "sentences", "tokens", "scheme", "labels", "-DOCSTART-", "> max_length", "repeats"):
            table.add_column(column, justify="left" if column in ("split", "file", "scheme") else "right")
        for s in self.splits:
            docstarts = "–" if s.docstart_lines is None else f"{s.docstart_lines:,} skipped"
            table.add_row(
                s.name, s.origin, f"{s.sentences:,}", f"{s.tokens:,}", s.scheme or "–", str(len(s.labels)),
                docstarts, str(s.over_max_length), str(s.duplicates),
            )
        table.caption = Text("\n".join(self._caption_lines()))  # Text, not markup: messages quote user values
        table.caption_justify = "left"
        return table

    def _caption_lines(self) -> list[str]:
        lines = [f"{f.level}: {f.split}: {f.message}" for f in self.findings]
        lines += [f"{s.name}: {s.missing_tags:,} of {s.tokens:,} tokens have a missing tag (trained over the tags they could have)"
                  for s in self.splits if s.missing_tags]
        if self.coverage:
            c = self.coverage
            lines.append(
                f"vectors cover {c['exact']:,} of {c['words']:,} training words as they are, "
                f"{c['lowercased']:,} lowercased; {c['missing']:,} missing"
            )
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        return lines


def check_data(config: Config) -> DataCheck:
    """Check the configured splits (see the module's docstring)."""
    # Spans that cannot be placed are left out while reading, so that all of them are listed.
    relaxed = dataclasses.replace(config.data, misaligned_spans="skip") if config.data.misaligned_spans == "error" else config.data
    try:
        corpus = load_corpus(relaxed)
    except DataError as error:
        split = error.split if isinstance(error, SplitError) else "data"
        return DataCheck(None, [], [Finding("error", split, str(error))])
    findings: list[Finding] = []
    _check_spans(corpus, config, findings)
    try:
        data = resolve_scheme(corpus, "train", config.data) if "train" in corpus.splits else config.data
    except DataError:  # the training split's tags mix kinds: its summary reports it
        data = dataclasses.replace(config.data, scheme="none")
    summaries = [_summarize(corpus, name, data, findings) for name in corpus.splits]
    cleaned = {}
    for name in corpus.splits:
        try:
            cleaned[name] = clean_split(corpus, name, dataclasses.replace(data, invalid_tags="repair"))
        except DataError as error:
            finding = Finding("error", name, str(error))
            if finding not in findings:  # the split's tag scheme, which its summary already reports
                findings.append(finding)
    _check_unseen_labels(cleaned, data, findings)
    _check_duplicates(corpus, summaries, findings)
    coverage = _coverage(corpus, config) if config.model.embeddings and "train" in corpus.splits else None
    return DataCheck(data.scheme, summaries, findings, coverage)


def _summarize(corpus: Corpus, name: str, data: DataConfig, findings: list[Finding]) -> SplitSummary:
    dataset = corpus.splits[name]
    summary = SplitSummary(name, corpus.origins[name], len(dataset), sum(map(len, dataset["tokens"])))
    origin = corpus.origins[name]
    if Path(origin).is_file() and file_format(origin, data.format) == "conll":
        summary.docstart_lines = _count_docstarts(Path(origin))
    lines = dataset["line"] if "line" in dataset.column_names else None
    too_long = [row for row, tokens in enumerate(dataset["tokens"]) if len(tokens) > data.max_length]
    summary.over_max_length = len(too_long)
    for row in too_long[:EXAMPLES]:
        where = corpus.where(name, row, lines[row] if lines else None)
        findings.append(Finding("warning", name, f"{where}: {len(dataset[row]['tokens'])} tokens, more than data.max_length={data.max_length} (cut into pieces)"))
    if "tags" not in dataset.column_names:
        return summary
    labels = Counter(tag for tags in dataset["tags"] for tag in tags)
    summary.missing_tags = labels.pop(data.missing_tag, 0) if data.missing_tag is not None else 0
    summary.labels = dict(labels.most_common())
    try:
        summary.scheme = input_scheme(corpus, name, data)
    except DataError as error:
        findings.append(Finding("error", name, str(error)))
        return summary
    if summary.scheme in ("IOB2", "BIOES") and data.scheme != schemes.NO_SPANS:  # labels as they are: nothing to repair
        invalid = 0
        for row, tags in enumerate(dataset["tags"]):
            tags = known_tags(tags, data.missing_tag)
            try:
                position = schemes.first_invalid(tags, summary.scheme)
            except ValueError:  # a malformed tag: clean_split reports it
                continue
            if position is None:
                continue
            invalid += 1
            if invalid <= EXAMPLES:
                where = corpus.where(name, row, lines[row] if lines else None)
                repaired = schemes.convert(tags, summary.scheme, summary.scheme)[position]
                before = tags[position - 1] if position else "start"
                findings.append(Finding(
                    "error", name,
                    f"{where} token {position + 1}: invalid {summary.scheme} transition {before} → {tags[position]} "
                    f"(data.invalid_tags: repair makes it {repaired})",
                ))
        if invalid > EXAMPLES:
            findings.append(Finding("error", name, f"{invalid - EXAMPLES} more sentences with invalid transitions"))
    return summary


def _check_spans(corpus: Corpus, config: Config, findings: list[Finding]) -> None:
    policy = config.data.misaligned_spans
    for name, origin in corpus.origins.items():
        kind = span_format(origin, config.data) if Path(origin).is_file() else None
        problems = span_problems(Path(origin), kind, config.data) if kind else []
        if policy == "error":
            findings += [Finding("error", name, f"{problem} (data.misaligned_spans: expand or skip)") for problem in problems]
        elif problems:
            findings.append(Finding("warning", name, f"{len(problems):,} span(s) left out (data.misaligned_spans: {policy}), the first: {problems[0]}"))


def _count_docstarts(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.split(maxsplit=1)[:1] == [DOCSTART.encode()])


def _check_unseen_labels(cleaned: dict, data: DataConfig, findings: list[Finding]) -> None:
    if "train" not in cleaned or "tags" not in cleaned["train"].column_names:
        return
    scheme = data.scheme
    known = schemes.label_kinds((known_tags(tags, data.missing_tag) for tags in cleaned["train"]["tags"]), scheme)
    for name, dataset in cleaned.items():
        if name != "train" and "tags" in dataset.column_names:
            unseen = schemes.label_kinds(dataset["tags"], scheme) - known
            if unseen:
                what = "labels" if scheme == schemes.NO_SPANS else "entity types"
                findings.append(Finding("error", name, f"{what} absent from train (never predicted): {', '.join(sorted(unseen))}"))


def _check_duplicates(corpus: Corpus, summaries: list[SplitSummary], findings: list[Finding]) -> None:
    seen_in: dict[str, set[tuple[str, ...]]] = {}
    for summary in summaries:
        sentences = [tuple(tokens) for tokens in corpus.splits[summary.name]["tokens"]]
        counts = Counter(sentences)
        summary.duplicates = sum(count - 1 for count in counts.values())
        if summary.duplicates:
            common = ", ".join(f'"{" ".join(s)}" ×{n}' for s, n in counts.most_common(3))
            findings.append(Finding("warning", summary.name, f"{summary.duplicates} sentences repeat earlier ones of the split (most: {common})"))
        seen_in[summary.name] = set(sentences)
    if "train" not in seen_in:
        return
    for name, sentences in seen_in.items():
        if name != "train":
            shared = sentences & seen_in["train"]
            if shared:
                longest = sorted(shared, key=len, reverse=True)[:2]
                examples = "; ".join(f'"{" ".join(s)}"' for s in longest)
                findings.append(Finding("warning", name, f"{len(shared)} distinct sentences also in train (longest: {examples})"))


def _coverage(corpus: Corpus, config: Config) -> dict[str, int]:
    """Training word types (as the vocabulary normalises them) with a vector as they are, only
    lowercased, or none."""
    available = pretrained_words(config.model.embeddings)
    words = {normalize_word(token, config.encoding) for tokens in corpus.splits["train"]["tokens"] for token in tokens}
    exact = sum(word in available for word in words)
    lowercased = sum(word not in available and word.lower() in available for word in words)
    return {"words": len(words), "exact": exact, "lowercased": lowercased, "missing": len(words) - exact - lowercased}
