"""Repeated API calls on one loaded model: its second call on a text, with the token cache its
first call filled, against a second call with an empty cache (as every call had before).

A loaded ``TaggingModel`` keeps one token encoder, whose cache of each distinct token's word,
casing and character ids serves every later call (the API's, the service's batches); before, each
call made a new encoder. Both second calls find the model's kernels warm, so the difference is
the cache's. Prints the best of ``--rounds`` fresh models, and checks that every call gives the
same tags and confidences.

    .venv/bin/python benchmarks/benchmark_api_calls.py RUN --threads 2
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import birnn_tag
from birnn_tag.data.encoding import TokenEncoder
from birnn_tag.data.reading.sources import read_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a tagging run folder or checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = birnn_tag.load(args.run).config
    sentences = [list(tokens) for tokens in read_file(config.data.test, config.data)["tokens"]]
    first, second, emptied = [], [], []
    for _ in range(args.rounds):
        model = birnn_tag.load(args.run)
        for times in (first, second, emptied):
            if times is emptied:
                model.encoder = TokenEncoder(model.vocabs, model.config.encoding)
            started = time.perf_counter()
            predictions = model.tag_tokens(sentences)
            times.append(time.perf_counter() - started)
            results = [(p.tags, p.confidences) for p in predictions]
            if times is first:
                expected = results
        assert results == expected, "the second call tagged differently"
    count = len(sentences)
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}")
    print(f"{count:,} test sentences of {args.run}, best of {args.rounds} fresh models")
    print(f"| first call (empty token cache) | {count / min(first):,.0f} sentences/s |")
    print(f"| second call, the cache its first call filled | {count / min(second):,.0f} sentences/s |")
    print(f"| second call, an empty cache (as every call before) | {count / min(emptied):,.0f} sentences/s |")


if __name__ == "__main__":
    main()
