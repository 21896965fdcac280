"""Document context (``model.document_context``): each run's test score and tagging speed with its
sentences read as documents and read one by one, in one process.

    python benchmarks/benchmark_document_context.py RUN [RUN ...] --data ../shared/data/conll2003/eng.testb --threads 2 --rounds 3

For each run (with or without document context) DATA's sentences are tagged twice through the
API ``predict`` uses (``tag_stream``, no confidences: CoNLL output):
  * as documents: read as ``predict --input-format conll`` reads the file, ``-DOCSTART-`` lines
    starting documents, so a model with document context reads each sentence with its neighbours;
  * sentence by sentence: the same sentences as token lists, each alone.
It prints the strict micro F1 of each against DATA's gold tags and the best round's sentences/s
as a markdown table. Timings need an idle machine (``pgrep -af birnn`` shows nothing else).
"""

from __future__ import annotations

import argparse
import time

import torch
from benchmark_onnx import machine

import birnn_tag
from birnn_tag.runs.loading import load_model
from birnn_tag.runtime.threads import busy_cores
from birnn_tag.tagging.scoring.evaluation import evaluate_tags, load_scored_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="tagging run folders")
    parser.add_argument("--data", default="../shared/data/conll2003/eng.testb", help="a CoNLL file with gold tags and -DOCSTART- lines")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    busy = busy_cores()
    rows = []
    for run in args.runs:
        loaded = load_model(run, "cpu")
        split = load_scored_split(loaded, data_file=args.data)
        model = birnn_tag.load(run, device="cpu")
        with open(args.data, "rb") as handle:
            documents = list(model.read_inputs(handle, args.data, "conll"))
        assert [sentence.tokens for sentence in documents] == split.tokens
        inputs = {"documents": documents, "sentences": split.tokens}
        scores, rates = {}, {}
        for mode, sentences in inputs.items():
            tags = [prediction.tags for prediction in model.tag_stream(sentences, confidences=False)]
            scores[mode] = evaluate_tags(split.tags, tags, loaded.config.data.scheme).score
            best = 0.0
            for _ in range(args.rounds):
                started = time.perf_counter()
                for _ in model.tag_stream(sentences, confidences=False):
                    pass
                best = max(best, len(sentences) / (time.perf_counter() - started))
            rates[mode] = best
        rows.append((run, loaded.config.model.document_context, scores, rates))
    print(f"machine: {machine()}, {args.threads} threads, {len(split.tokens):,} sentences of {args.data}; cores busy at the start: {busy}")
    if busy:
        print("warning: other processes were running; the timings are not fit to publish")
    print("| run | document context | F1 as documents | F1 sentence by sentence | sentences/s as documents | sentences/s one by one |")
    print("|---|---|---|---|---|---|")
    for run, context, scores, rates in rows:
        print(
            f"| {run} | {context or 'off'} | {100 * scores['documents']:.2f} | {100 * scores['sentences']:.2f} "
            f"| {rates['documents']:,.0f} | {rates['sentences']:,.0f} |"
        )


if __name__ == "__main__":
    main()
