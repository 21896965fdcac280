"""Simulated labelling on CoNLL-2003: start from ``--start`` random training sentences, then
``--rounds`` rounds that each add ``--batch`` sentences chosen by a strategy (``birnn_tag.select``
on the rest of the training split, its gold tags standing in for the annotator) and retrain; dev
F1 after each round, per strategy and seed.

    python benchmarks/simulate_labelling.py --strategies random least-confidence margin --seeds 1 2 \
        --plot docs/images/labelling.png

Writes ``results.json`` in ``--out`` after every round (strategy, seed, sentences, tokens, dev F1)
and, with ``--plot``, the mean curve per strategy (needs the ``[plots]`` extra). Feeds
docs/benchmarks.md: What to label next. Trains one run at a time; run it alone.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import birnn_tag
from birnn_tag.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def read_sentences(path: Path) -> list[list[list[str]]]:
    """The file's sentences, each a list of column lists, without -DOCSTART- lines."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    sentences = [[line.split() for line in block.splitlines() if line.strip()] for block in blocks]
    return [rows for rows in sentences if rows and rows[0][0] != "-DOCSTART-"]


def dev_f1(run: Path) -> float:
    return json.loads((run / "report-validation.json").read_text())["scores"]["micro avg"]["f1-score"] * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/conll2003-glove-fast.yaml")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/conll2003")
    parser.add_argument("--strategies", nargs="+", default=["random", "least-confidence", "margin"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--start", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--normalize", action="store_true", help="per-token uncertainty")
    parser.add_argument("--diversity", type=float, default=0.0, help="skip near-duplicates (Jaccard)")
    parser.add_argument("--plot", type=Path, help="write the dev F1 curves to this image")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="labelling-")))
    args = parser.parse_args()
    data = args.data.resolve()
    pool = read_sentences(data / "eng.train")
    base = [f"data.validation={data / 'eng.testa'}", "data.test=null", "training.progress=false",
            f"model.embeddings={ROOT.parent / 'shared/data/embeddings/glove.6B.50d.txt.gz'}"]
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, object]] = []
    sizes = [args.start + args.batch * r for r in range(args.rounds + 1)]
    print(f"| strategy | seed | {' | '.join(f'{n:,} sentences' for n in sizes)} |\n|---|---|{'---|' * len(sizes)}", flush=True)
    for seed in args.seeds:
        start = random.Random(seed).sample(range(len(pool)), args.start)
        first = None  # every strategy starts from the same first model
        for strategy in args.strategies:
            labelled, scores = list(start), []
            for round_ in range(args.rounds + 1):
                if round_ == 0 and first is not None:
                    run = first
                else:
                    train = args.out / f"{strategy}-{seed}-{round_}.conll"
                    train.write_text("\n\n".join("\n".join(" ".join(f) for f in pool[i]) for i in labelled) + "\n", encoding="utf-8")
                    overrides = [*base, f"data.train={train}", f"training.seed={seed}", f"output.dir={args.out / f'run-{strategy}-{seed}-{round_}'}", *args.overrides]
                    run = birnn_tag.train(load_config(args.config, overrides))
                    first = first or run
                scores.append(dev_f1(run))
                tokens_labelled = sum(len(pool[i]) for i in labelled)
                results.append({"strategy": strategy, "seed": seed, "sentences": len(labelled), "tokens": tokens_labelled, "dev_f1": scores[-1]})
                (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
                if round_ < args.rounds:
                    chosen_set = set(labelled)
                    rest = [i for i in range(len(pool)) if i not in chosen_set]
                    tokens = [[fields[0] for fields in pool[i]] for i in rest]
                    picked = birnn_tag.select(run, tokens, args.batch, strategy, normalize=args.normalize,
                                             diversity=args.diversity, seed=seed * 1000 + round_)
                    labelled += [rest[item.index] for item in picked]
            print(f"| {strategy} | {seed} | {' | '.join(f'{s:.2f}' for s in scores)} |", flush=True)
    if args.plot:
        plot(results, args.plot)


def plot(results: list[dict[str, object]], path: Path) -> None:
    """Mean dev F1 over seeds against labelled sentences, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for strategy in dict.fromkeys(str(r["strategy"]) for r in results):
        rows = [r for r in results if r["strategy"] == strategy]
        sizes = sorted({int(r["sentences"]) for r in rows})
        means = [sum(float(r["dev_f1"]) for r in rows if r["sentences"] == n) / sum(1 for r in rows if r["sentences"] == n) for n in sizes]
        axes.plot(sizes, means, marker="o", label=strategy)
    axes.set_xlabel("labelled training sentences")
    axes.set_ylabel("dev F1 (eng.testa), mean over seeds")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
