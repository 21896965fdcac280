"""An int8 export (``birnn-tag export --quantize int8``) beside fp32 and bf16, on one machine in one run.

    python benchmarks/benchmark_quantized.py RUN --data ../shared/data/conll2003/eng.testb --threads 2 --rounds 3

Exports RUN twice to a temporary folder (fp32, int8); the ONNX runtime offers no bf16, so bf16 is
PyTorch's (``predict --precision bf16``; left out where the CPU has no native bf16, which
``--precision bf16`` refuses). For PyTorch fp32 and bf16 and the two exports:
  * the file: ``model.onnx`` for an export, the checkpoint for PyTorch (fp32 weights, which bf16
    casts at load);
  * tagging speed in this process (``tag_stream``, the API ``predict`` uses) at ``--threads``
    threads, rounds alternating between backends, the best round: without confidences (CoNLL
    output) and with them (JSONL: the CRF's marginals);
  * the tags that differ from PyTorch fp32's (tokens, their share, and sentences), and the score
    (strict micro F1, or token accuracy) of each against DATA's gold tags.

``--accuracy-only`` skips the timings: agreement and F1 need no idle machine. Timings do: run
them alone (``pgrep -af birnn-tag`` shows nothing). Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from benchmark_onnx import machine

import birnn_tag
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.checkpoint import checkpoint_in
from birnn_tag.runs.loading import load_model
from birnn_tag.runtime.threads import busy_cores
from birnn_tag.tagging.onnx.export import export_model
from birnn_tag.tagging.onnx.runtime import MODEL_FILE, OnnxTaggingModel
from birnn_tag.tagging.scoring.evaluation import evaluate_tags, load_scored_split


def tags_of(model, sentences: list[list[str]]) -> list[list[str]]:
    return [prediction.tags for prediction in model.tag_stream(sentences, confidences=False)]


def sentences_per_second(model, sentences: list[list[str]], confidences: bool) -> float:
    started = time.perf_counter()
    for _ in model.tag_stream(sentences, confidences=confidences):
        pass
    return len(sentences) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a tagging run folder (best.pt) or checkpoint")
    parser.add_argument("--data", default="../shared/data/conll2003/eng.testb", help="a file with gold tags, read as the run's data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accuracy-only", action="store_true", help="agreement and F1 only, no timings")
    args = parser.parse_args()
    loaded = load_model(args.run, "cpu")
    split = load_scored_split(loaded, data_file=args.data)
    sentences, gold, scheme = split.tokens, split.tags, loaded.config.data.scheme
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folders, export_seconds = {}, {}
        for precision in ("fp32", "int8"):
            started = time.perf_counter()
            folders[precision] = export_model(loaded, Path(scratch) / precision, quantize=None if precision == "fp32" else precision)
            export_seconds[precision] = time.perf_counter() - started
        checkpoint = checkpoint_in(loaded.path) if loaded.path.is_dir() else loaded.path
        backends = {"PyTorch fp32": (birnn_tag.load(args.run, device="cpu", precision="fp32"), checkpoint)}
        try:
            backends["PyTorch bf16"] = (birnn_tag.load(args.run, device="cpu", precision="bf16"), checkpoint)
        except BirnnTagError as error:  # refused where the CPU has no native bf16
            print(f"PyTorch bf16 left out: {error}")
        for precision, folder in folders.items():
            backends[f"onnxruntime {precision}"] = (OnnxTaggingModel(folder, threads=args.threads), folder / MODEL_FILE)
        predicted = {name: tags_of(model, sentences) for name, (model, _) in backends.items()}
        rates: dict[tuple[str, bool], list[float]] = {}
        busy = busy_cores()
        for _ in range(0 if args.accuracy_only else args.rounds):
            for name, (model, _) in backends.items():
                for confidences in (False, True):
                    rates.setdefault((name, confidences), []).append(sentences_per_second(model, sentences, confidences))
        threads = [model.session.get_session_options().intra_op_num_threads for model, _ in backends.values() if isinstance(model, OnnxTaggingModel)]
        sizes = {name: path.stat().st_size / 2**20 for name, (_, path) in backends.items()}

    tokens = sum(map(len, sentences))
    print(f"machine: {machine()}, run {args.run}, {len(sentences):,} sentences / {tokens:,} tokens of {args.data}")
    print(f"threads: PyTorch {torch.get_num_threads()}, onnxruntime {threads}; cores busy with other processes at the start: {busy}")
    if busy and rates:
        print("warning: other processes were running; the timings are not fit to publish")
    print(f"export: fp32 {export_seconds['fp32']:.1f} s, int8 {export_seconds['int8']:.1f} s\n")
    reference = predicted["PyTorch fp32"]
    print("| backend | file | size | no confidences (CoNLL) | with confidences (JSONL) | tags ≠ PyTorch fp32 | sentences ≠ | test score |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (_, path) in backends.items():
        differing = sum(x != y for a, b in zip(reference, predicted[name]) for x, y in zip(a, b))
        sentences_differing = sum(a != b for a, b in zip(reference, predicted[name]))
        score = evaluate_tags(gold, predicted[name], scheme).score
        speed = [f"{max(rates[name, c]):,.0f} sentences/s" if rates else "–" for c in (False, True)]
        print(
            f"| {name} | {path.name} | {sizes[name]:.2f} MiB | {speed[0]} | {speed[1]} | {differing:,} ({100 * differing / tokens:.3f} %) "
            f"| {sentences_differing:,} | {100 * score:.2f} |"
        )


if __name__ == "__main__":
    main()
