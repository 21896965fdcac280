"""Before/after speed of two birnn-tag source trees, measured in alternating fresh processes.

This machine's speed drifts by ±20 % within minutes, so a change is judged by running the old and
the new code in turn, several rounds, and comparing medians. Each worker process imports
``birnn_tag`` from its tree, trains one epoch on the first ``--sentences`` training sentences
(the same ``train_epoch`` the CLI runs) and predicts the test set with CoNLL-column output.
With ``--run``, each round also times the whole ``birnn-tag predict RUN`` command on a one-sentence
input: the start-up a user waits for.

    git worktree add /tmp/before HEAD~1
    python benchmarks/benchmark_ab.py --before /tmp/before --after . --config configs/conll2003-glove.yaml

Prints one line per process and a markdown table of medians for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def worker(args: argparse.Namespace) -> None:
    """Time training and prediction with whichever ``birnn_tag`` is first on the path."""
    import gc
    import time

    import torch

    from birnn_tag.config import load_config
    from birnn_tag.tasks import task_for

    try:  # rooms by role (issue 23)
        from birnn_tag.data.reading.sources import read_file
        from birnn_tag.runs.checkpoint import LoadedModel
        from birnn_tag.tagging.prediction.streaming import format_prediction
        from birnn_tag.tagging.public.pytorch import TaggingModel
        from birnn_tag.training.epoch import make_optimizer, train_epoch
    except ModuleNotFoundError:  # the flat tree before it
        from birnn_tag.checkpoint import LoadedModel
        from birnn_tag.data.sources import read_file
        from birnn_tag.epoch import make_optimizer, train_epoch
        from birnn_tag.tagging.prediction import format_prediction
        from birnn_tag.tagging.tagging_model import TaggingModel

    torch.set_num_threads(args.threads)
    config = load_config(args.config, args.overrides)
    task = task_for(config)
    try:  # the task reads, settles the config, encodes
        corpus = task.read(config)
        config = task.settle(config, corpus)
        vocabs, splits = task.encode_splits(config, corpus, None)
    except AttributeError:  # older trees: one step that returns the settled config
        from birnn_tag.tagging.pipeline import load_tagging_splits

        config, vocabs, splits = load_tagging_splits(config)
    torch.manual_seed(0)
    model = task_for(config).build_model(config, vocabs)
    sentences = splits["train"].sentences[: args.sentences]
    stats = train_epoch(model, sentences, make_optimizer(model, config.training), config.training, 1, torch.device("cpu"), None)
    test = read_file(config.data.test, config.data)
    loaded = LoadedModel(config, vocabs, model.eval(), None)
    gc.freeze()  # as `birnn-tag predict` does once its model is loaded
    started = time.perf_counter()
    stream = TaggingModel(loaded, torch.device("cpu")).tag_stream(test["tokens"], pretokenized=True, batch_size=256, confidences=False)
    for prediction in stream:
        format_prediction(prediction, "conll")
    predict_seconds = time.perf_counter() - started
    result = {"train_sps": len(sentences) / stats["train_seconds"], "predict_sps": len(test["tokens"]) / predict_seconds}
    print(json.dumps(result))


def one_sentence_seconds(tree: Path, run: str) -> float:
    """Wall time of ``python -m birnn_tag predict RUN`` on one sentence, with ``tree``'s code."""
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "one.txt"
        text.write_text("Tom flew to Paris .\n")
        command = [sys.executable, "-m", "birnn_tag", "predict", run, str(text), "--pretokenized", "--device", "cpu"]
        started = time.perf_counter()
        subprocess.run(command, cwd=tree, capture_output=True, check=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=False)
    parser.add_argument("--after", type=Path, default=Path("."))
    parser.add_argument("--config", default="configs/conll2003-glove.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--sentences", type=int, default=4000, help="training sentences per epoch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--run", help="a trained run: also time `birnn-tag predict RUN` on one sentence")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.before is None:
        parser.error("--before is required")
    config = str(Path(args.config).resolve())
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for round_ in range(args.rounds):
        for name, tree in (("before", args.before), ("after", args.after)):
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--config", config]
            command += [f"--sentences={args.sentences}", f"--threads={args.threads}"]
            command += [f"--set={override}" for override in args.overrides]
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name} worker ({tree}) failed:\n{done.stderr[-2000:]}")
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            if args.run:
                results[name][-1]["startup_s"] = one_sentence_seconds(tree, str(Path(args.run).resolve()))
            print(f"round {round_ + 1} {name}: {results[name][-1]}", flush=True)
    print(f"\n{args.rounds} rounds, medians, {args.threads} threads, {args.sentences} training sentences")
    print("| measure | before | after | after / before |\n|---|---|---|---|")
    measures = [("train_sps", "training sentences/s"), ("predict_sps", "prediction sentences/s (CoNLL output)")]
    if args.run:
        measures.append(("startup_s", "`birnn-tag predict` on one sentence, seconds"))
    for key, label in measures:
        before = statistics.median(r[key] for r in results["before"])
        after = statistics.median(r[key] for r in results["after"])
        digits = 2 if key == "startup_s" else 0
        print(f"| {label} | {before:,.{digits}f} | {after:,.{digits}f} | {after / before:.2f}× |")


if __name__ == "__main__":
    main()
