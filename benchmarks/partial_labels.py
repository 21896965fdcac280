"""Partly labelled training data on CoNLL-2003: half of the training entities (a fixed draw) lose
their labels, and the same recipe is trained with their tokens marked missing (``data.missing_tag``)
and with them turned into ``O``; test F1 of each, per seed.

    python benchmarks/partial_labels.py --seeds 1 2 3 --set training.epochs=10

Feeds docs/benchmarks.md: Partly labelled data. Trains 2 runs per seed, one at a time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import birnn_tag
from birnn_tag.config import load_config
from birnn_tag.tagging.data import schemes

ROOT = Path(__file__).resolve().parent.parent


def degrade(source: Path, target: Path, mark: str, fraction: float, seed: int) -> tuple[int, int]:
    """Write ``source`` (CoNLL, IOB1 tags last) to ``target`` with ``fraction`` of its entities'
    tags replaced by ``mark``; returns (entities, entities unlabelled)."""
    blocks = source.read_text(encoding="utf-8").split("\n\n")
    sentences = [[line.split() for line in block.splitlines() if line.strip()] for block in blocks]
    spans = [(row, start, end) for row, rows in enumerate(sentences) if rows and rows[0][0] != "-DOCSTART-"
             for _, start, end in schemes.to_spans([fields[-1] for fields in rows], "IOB1")]
    removed = random.Random(seed).sample(spans, round(len(spans) * fraction))
    for row, start, end in removed:
        for fields in sentences[row][start:end]:
            fields[-1] = mark
    target.write_text("\n\n".join("\n".join(" ".join(fields) for fields in rows) for rows in sentences) + "\n", encoding="utf-8")
    return len(spans), len(removed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/conll2003-glove-fast.yaml")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/conll2003")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="partial-labels-")))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data.resolve()
    paths = [f"data.validation={data / 'eng.testa'}", f"data.test={data / 'eng.testb'}",
             f"model.embeddings={ROOT.parent / 'shared/data/embeddings/glove.6B.50d.txt.gz'}", "training.progress=false",
             "data.input_scheme=IOB1"]  # removing entities leaves B- after O, which auto would read as IOB2
    print("| seed | entities unlabelled | marked missing: test F1 | turned into O: test F1 |\n|---|---|---|---|")
    for seed in args.seeds:
        scores = {}
        for name, mark in (("missing", "-"), ("o", "O")):
            train = args.out / f"train-{name}-{seed}.conll"
            total, removed = degrade(data / "eng.train", train, mark, args.fraction, seed=0)
            overrides = [*paths, f"data.train={train}", f"training.seed={seed}", f"output.dir={args.out / f'{name}-{seed}'}", *args.overrides]
            if mark == "-":
                overrides.append("data.missing_tag=-")
            run = birnn_tag.train(load_config(args.config, overrides))
            scores[name] = json.loads((run / "report-test.json").read_text())["scores"]["micro avg"]["f1-score"] * 100
        print(f"| {seed} | {removed:,} of {total:,} | {scores['missing']:.2f} | {scores['o']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
