"""Throughput of birnn-tag on CoNLL-2003 against this machine's fp32 matrix-multiply ceiling.

Measures, in one process and one run (so the ratios are comparable):
  * the fp32 matmul rate (best of square sizes 512..2048) — the machine's ceiling;
  * training tokens/s over real CoNLL-2003 batches (the same ``train_epoch`` code the CLI runs),
    and the BiLSTM's achieved GFLOP/s from its analytic FLOP count: over the whole epoch's wall
    time, over the time of its own kernels inside profiled training steps (CPU), and alone
    (forward + backward on the same batch shapes, nothing else);
  * prediction tokens/s and sentences/s over the test set, tagged and formatted as CoNLL columns
    and as JSONL (``tag_stream`` + ``format_prediction``, as ``birnn-tag predict``), in fp32
    and in bf16 (``--precision``);
  * peak RSS.

    python benchmarks/benchmark_speed.py --config configs/conll2003.yaml --threads 2

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shutil
import tempfile
import time

import torch

from birnn_tag.runs.checkpoint import LoadedModel
from birnn_tag.config import load_config
from birnn_tag.data.batching import bucketed_batches
from birnn_tag.data.reading.sources import read_file
from birnn_tag.runtime.devices import has_native_bf16
from birnn_tag.training.epoch import make_optimizer, train_epoch
from birnn_tag.tagging.prediction.streaming import OUTPUT_FORMATS, InputSentence, format_prediction
from birnn_tag.tagging.public.pytorch import TaggingModel
from birnn_tag.tasks import task_for


def matmul_gflops(device: torch.device, seconds: float = 2.0) -> tuple[float, int]:
    """Best fp32 GFLOP/s of a square matmul on ``device`` over a few sizes, and the size that gave it."""
    best = (0.0, 0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for size in (512, 1024, 2048):
        a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
        a @ b  # warm-up
        sync()
        reps, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            a @ b
            reps += 1
        sync()
        rate = 2 * size**3 * reps / (time.perf_counter() - started) / 1e9
        best = max(best, (rate, size))
    return best


GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight blocks per layer and direction, by model.cell


def lstm_flops_per_token(input_dim: int, hidden: int, layers: int, cell: str = "lstm") -> float:
    """Forward FLOPs per token of a stacked BiLSTM (BiGRU, BiRNN): 2 directions × 4 gates (3, 1)
    × (in + hidden) × hidden MACs."""
    total, size_in = 0.0, input_dim
    for _ in range(layers):
        total += 2 * 2 * GATES[cell] * hidden * (size_in + hidden)  # 2 directions, 2 FLOPs per multiply-add
        size_in = 2 * hidden
    return total


def lstm_only_seconds(model: torch.nn.Module, lengths: list[int], batch_size: int, device: torch.device) -> float:
    """Forward + backward time of the model's BiLSTM alone over one epoch's batch shapes (random
    inputs, no embedder/head/optimiser): how fast the recurrent kernels themselves run. The
    better of two passes, as this machine's speed drifts."""
    encoder = model.encoder
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        for indices in bucketed_batches(lengths, batch_size, generator=torch.Generator().manual_seed(0)):
            batch_lengths = torch.tensor([lengths[i] for i in indices])
            inputs = torch.randn(len(indices), int(batch_lengths.max()), encoder.rnn.input_size, device=device, requires_grad=True)
            encoder(inputs, batch_lengths).sum().backward()
        sync()
        times.append(time.perf_counter() - started)
    return min(times)


def lstm_kernel_seconds_in_training(model: torch.nn.Module, sentences: list, optimizer, config, device: torch.device) -> float | None:
    """Seconds spent inside the BiLSTM's oneDNN kernels (forward and backward) during a profiled
    training epoch over ``sentences``: the BiLSTM's own share of real training steps. CPU only."""
    if device.type != "cpu":
        return None
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        train_epoch(model, sentences, optimizer, config, 2, device, None)
    kernels = [e for e in profile.key_averages() if e.key.startswith("aten::mkldnn_rnn_layer")]
    return sum(e.self_cpu_time_total for e in kernels) / 1e6


def predict_seconds_of(
    loaded: LoadedModel, inputs: list[InputSentence], output_format: str, batch_size: int, device: torch.device, precision: str
) -> float:
    """Wall time of ``birnn-tag predict``'s work on ``inputs``: tag, then format every result
    (writing to a file is left out). The better of two passes: the first one warms up."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        confidences = output_format == "jsonl"  # as the CLI: CoNLL columns carry none
        stream = TaggingModel(loaded, device, precision).tag_stream(inputs, batch_size=batch_size, confidences=confidences)
        for prediction in stream:
            format_prediction(prediction, output_format)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/conll2003.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--predict-batch-size", type=int, default=256, help="as `birnn-tag predict --batch-size`")
    parser.add_argument("--cold-features", action="store_true", help="contextual features into an empty cache (timed from scratch)")
    args = parser.parse_args()
    if args.cold_features:
        os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="birnn-tag-cold-")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = load_config(args.config, args.overrides)
    task = task_for(config)
    corpus = task.read(config)
    config = task.settle(config, corpus)
    vocabs, splits = task.encode_splits(config, corpus, None)
    torch.manual_seed(0)
    model = task.build_model(config, vocabs).to(device)
    # Contextual features (model.transformer, lm_embeddings): computed once per split, or read
    # back from the cache when an earlier run computed them; the epoch below reads them.
    started = time.perf_counter()
    splits = {name: task.prepare_split(model, split) for name, split in splits.items()}
    context_seconds = time.perf_counter() - started
    if args.cold_features:  # the features stay mapped in memory; their files can go
        shutil.rmtree(os.environ["HF_DATASETS_CACHE"])
    optimizer = make_optimizer(model, config.training)

    # The ceiling is measured before and after the epoch and the better kept: a shared machine's
    # speed drifts, and a low ceiling would flatter the ratio.
    before = matmul_gflops(device)
    stats = train_epoch(model, splits["train"].sentences, optimizer, config.training, 1, device, None)
    ceiling, size = max(before, matmul_gflops(device))
    train_tps = stats["train_tokens"] / stats["train_seconds"]
    train_sps = len(splits["train"].sentences) / stats["train_seconds"]
    per_token = 3 * lstm_flops_per_token(model.embedder.output_dim, config.model.hidden_size, config.model.num_layers, config.model.cell)
    achieved = per_token * train_tps / 1e9
    lengths = [len(s) for s in splits["train"].sentences]
    lstm_only = per_token * sum(lengths) / lstm_only_seconds(model, lengths, config.training.batch_size, device) / 1e9

    test = read_file(config.data.test, config.data)
    inputs = [InputSentence.from_tokens(tokens) for tokens in test["tokens"]]
    loaded = LoadedModel(config, vocabs, model.eval(), None)
    gc.freeze()  # as `birnn-tag predict` does once its model is loaded
    tokens = sum(len(sentence.tokens) for sentence in inputs)
    # bf16 is refused where the CPU does not multiply it natively (emulated, it would be slower).
    precisions = ("fp32", "bf16") if has_native_bf16(device) else ("fp32",)
    predict_seconds = {
        (name, precision): predict_seconds_of(loaded, inputs, name, args.predict_batch_size, device, precision)
        for precision in precisions
        for name in OUTPUT_FORMATS
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Last, as the profiler's event records would inflate the peak RSS above.
    profiled = splits["train"].sentences[:3000]
    kernel_seconds = lstm_kernel_seconds_in_training(model, profiled, optimizer, config.training, device)
    in_training = per_token * sum(len(s) for s in profiled) / kernel_seconds / 1e9 if kernel_seconds else None

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {args.threads} threads, torch {torch.__version__}, device {device}, native bf16: {has_native_bf16(device)}")
    print(f"config: {args.config} {' '.join(args.overrides)}")
    print("| measure | value |\n|---|---|")
    print(f"| fp32 matmul ceiling ({size}×{size}) | {ceiling:.1f} GFLOP/s |")
    if len(getattr(model, "contexts", ())):
        count = sum(len(split.sentences) for split in splits.values())
        cache = "computed into an empty cache" if args.cold_features else "from the cache when computed before"
        print(f"| contextual features of all splits ({cache}) | {context_seconds:.1f} s for {count:,} sentences ({count / context_seconds:,.0f} sentences/s) |")
    print(f"| training, one full epoch | {train_tps:,.0f} tokens/s, {train_sps:,.0f} sentences/s ({stats['train_seconds']:.1f} s) |")
    print(f"| BiLSTM achieved (fwd+bwd = 3× fwd FLOPs) over the epoch | {achieved:.1f} GFLOP/s = {100 * achieved / ceiling:.0f}% of matmul |")
    print(f"| the BiLSTM alone on the same batch shapes | {lstm_only:.1f} GFLOP/s = {100 * lstm_only / ceiling:.0f}% of matmul |")
    if in_training:
        print(f"| the BiLSTM's kernels inside training steps (profiler, 3,000 sentences) | {in_training:.1f} GFLOP/s = {100 * in_training / ceiling:.0f}% of matmul |")
    for (name, precision), seconds in predict_seconds.items():
        rates = f"{tokens / seconds:,.0f} tokens/s, {len(inputs) / seconds:,.0f} sentences/s"
        print(f"| prediction, test set, {name} output, {precision} (batch {args.predict_batch_size}) | {rates} |")
    print(f"| peak RSS | {peak_mb:,.0f} MB |")


if __name__ == "__main__":
    main()
