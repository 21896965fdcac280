"""Documents against sentences: a CoNLL-2003 run tags eng.testb one sentence per line; each
document in document mode (split into sentences by spaCy's sentencizer), written on one line
(every line break lost) or with its lines (headline, dateline, sentences) separated by line
breaks, as a JSONL ``text`` keeps them; and each document read as a single sentence
(overlapping windows past ``max_length``). Strict span F1 (seqeval, IOB2) of each against the
gold tags, and each mode's speed.

    python benchmarks/benchmark_documents.py RUN --data ../shared/data/conll2003/eng.testb

Feeds docs/benchmarks.md: Documents. Run it alone: the speeds are timed.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import torch
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

import birnn_tag
from birnn_tag.tagging.data import schemes

DOCSTART = "-DOCSTART-"


def read_documents(path: Path, tag_column: int) -> list[list[tuple[list[str], list[str]]]]:
    """The file's documents, each a list of (tokens, IOB2 tags) sentences."""
    documents: list[list[tuple[list[str], list[str]]]] = []
    tokens: list[str] = []
    tags: list[str] = []

    def close_sentence() -> None:
        if tokens:
            if not documents:
                documents.append([])
            documents[-1].append((list(tokens), schemes.convert(tags, "IOB1", "IOB2")))
            tokens.clear()
            tags.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields:
            close_sentence()
        elif fields[0] == DOCSTART:
            close_sentence()
            documents.append([])
        else:
            tokens.append(fields[0])
            tags.append(fields[tag_column])
    close_sentence()
    return [document for document in documents if document]


def timed(function):
    gc.collect()
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/conll2003/eng.testb"))
    parser.add_argument("--tag-column", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tagger = birnn_tag.load(args.run, device="cpu")
    if tagger.config.data.scheme != "IOB2":
        parser.error(f"{args.run}: the run tags in {tagger.config.data.scheme}; this benchmark scores IOB2 runs")
    documents = read_documents(args.data, args.tag_column)
    sentences = [tokens for document in documents for tokens, _ in document]
    gold = [tags for document in documents for _, tags in document]
    lines = [" ".join(tokens) for document in documents for tokens, _ in document]
    document_lines = [" ".join(" ".join(tokens) for tokens, _ in document) for document in documents]
    document_texts = ["\n".join(" ".join(tokens) for tokens, _ in document) for document in documents]
    tokens_total = sum(map(len, sentences))
    max_length = tagger.config.data.max_length

    def per_sentence(predicted_documents: list) -> list[list[str]]:
        """Document predictions' tags cut back into the gold sentences."""
        tags, position = [], 0
        for document, prediction in zip(documents, predicted_documents):
            assert len(prediction.tags) == sum(len(tokens) for tokens, _ in document)
            for tokens, _ in document:
                tags.append(prediction.tags[position : position + len(tokens)])
                position += len(tokens)
            position = 0
        return tags

    tagger.tag(lines[:50], pretokenized=True)  # warm-up: kernels, caches
    by_sentence, sentence_seconds = timed(lambda: [p.tags for p in tagger.tag(lines, pretokenized=True)])
    as_documents, document_seconds = timed(lambda: per_sentence(tagger.tag_documents(document_lines, pretokenized=True)))
    with_lines, lines_seconds = timed(lambda: per_sentence(tagger.tag_documents(document_texts, pretokenized=True)))
    as_one_sentence, window_seconds = timed(lambda: per_sentence(tagger.tag(document_lines, pretokenized=True)))
    long = [i for i, document in enumerate(documents) if sum(len(tokens) for tokens, _ in document) > max_length]
    in_long = {j for i in long for j in range(sum(len(d) for d in documents[:i]), sum(len(d) for d in documents[: i + 1]))}

    def f1(predicted: list[list[str]], rows: set[int] | None = None) -> float:
        keep = range(len(gold)) if rows is None else sorted(rows)
        return 100 * f1_score([gold[i] for i in keep], [predicted[i] for i in keep], mode="strict", scheme=IOB2)

    short = set(range(len(gold))) - in_long
    print(f"{args.data}: {len(documents)} documents ({len(long)} longer than max_length {max_length}), "
          f"{len(sentences):,} sentences, {tokens_total:,} tokens")
    print("| input | strict F1 | F1, documents within max_length | F1, longer documents | tokens/s |")
    print("|---|---|---|---|---|")
    for name, predicted, seconds in (
        ("one sentence per line", by_sentence, sentence_seconds),
        ("one document per line, `--input-format documents`", as_documents, document_seconds),
        ("one document per JSON text, lines kept, `--input-format documents`", with_lines, lines_seconds),
        ("one document per line, read as one sentence (windows)", as_one_sentence, window_seconds),
    ):
        print(f"| {name} | {f1(predicted):.2f} | {f1(predicted, short):.2f} | {f1(predicted, in_long):.2f} | {tokens_total / seconds:,.0f} |")


if __name__ == "__main__":
    main()
