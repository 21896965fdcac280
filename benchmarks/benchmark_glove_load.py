"""Time loading GloVe 6B 50d with ``birnn_tag.data.pretrained``, whole and filtered to a vocabulary.

    python benchmarks/benchmark_glove_load.py [PATH.gz] [--words WORDS.txt] [--repeat 3]

PATH defaults to ``../shared/data/embeddings/glove.6B.50d.txt.gz`` and the filter vocabulary to the
first column of ``glove.6B.50d.conll2003.txt`` beside it (GloVe's lines for the CoNLL-2003 words).
Prints, for each run, the best wall-clock seconds over ``--repeat`` loads and the rows loaded.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from birnn_tag.data.pretrained import embedding_matrix, pretrained_words, read_vectors
from birnn_tag.data.vocab import Vocab

EMBEDDINGS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "embeddings"


def best_time(load: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Fastest of ``repeat`` calls of ``load`` (the first one also warms the page cache) and its row count."""
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = load()
        best = min(best, time.perf_counter() - started)
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(EMBEDDINGS / "glove.6B.50d.txt.gz"))
    parser.add_argument("--words", default=str(EMBEDDINGS / "glove.6B.50d.conll2003.txt"),
                        help="a file whose lines start with the words to keep (space-separated first field)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with open(args.words, encoding="utf-8") as handle:
        wanted = {line.split(" ", 1)[0] for line in handle if line.strip()}
    runs: list[tuple[str, Callable[[], int]]] = [
        ("read_vectors, all words", lambda: read_vectors(args.path)[1].shape[0]),
        (f"read_vectors, {len(wanted):,} wanted words", lambda: read_vectors(args.path, wanted)[1].shape[0]),
        ("pretrained_words (no numbers parsed)", lambda: len(pretrained_words(args.path))),
        ("embedding_matrix, wanted words (found)",
         lambda: embedding_matrix(Vocab(sorted(wanted)).items, args.path)[1]),
    ]
    print(f"{args.path}, best of {args.repeat}")
    print(f"| {'load':<46} | {'seconds':>7} | {'rows':>7} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 9}|")
    for label, load in runs:
        seconds, rows = best_time(load, args.repeat)
        print(f"| {label:<46} | {seconds:7.2f} | {rows:>7,} |")


if __name__ == "__main__":
    main()
