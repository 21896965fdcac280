"""The measurements behind the BiLSTM kernel choices, on CoNLL-2003's real sentence lengths.

  1. the word BiLSTM over packed sequences against the padded oneDNN path birnn-tag takes on CPU
     (``BiRNNEncoder.packed`` / ``.padded``), training (forward + backward) and inference; with
     ``--cells lstm gru rnn``, the same for each ``model.cell`` (GRU and RNN stay packed on CPU);
  2. the character BiLSTM packed (what birnn-tag does) against the same padded path;
  3. inference batches of a fixed 256 sentences against ``sorted_batches`` (capped padded tokens);
  4. predicting the test set with and without ``gc.freeze()`` after loading, as ``birnn-tag predict``
     does (needs ``--run``, a trained run folder or checkpoint);
  5. fp32 against bf16: a 1024² matmul and an LSTM (inference), what ``--precision bf16`` gains on
     CPUs with native bf16;
  6. reversing the steps of a padded batch within each length (the backward direction's input and
     output): an element-wise ``gather`` along time against copying whole rows with
     ``index_select`` (``recurrent.gather_steps``), forward and backward, fp32 and bf16.

    python benchmarks/benchmark_kernels.py --data ../shared/data/conll2003 --run runs/conll2003-glove

Each timing is the best of ``--repeats`` passes, variants interleaved; prints markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from birnn_tag.data.batch_plans import sorted_batches
from birnn_tag.data.batching import bucketed_batches
from birnn_tag.data.reading.conll import ColumnFormat, read_conll
from birnn_tag.nn.encoder import BiRNNEncoder
from birnn_tag.nn.recurrent import gather_steps, reversal_index, run_direction


def sentence_lengths(path: Path) -> list[int]:
    """Token counts of a CoNLL file's sentences, read as birnn-tag reads them."""
    return [len(tokens) for tokens in read_conll(path, ColumnFormat(tag_column=None))["tokens"]]


def best_of(repeats: int, variants: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Best wall time of each variant over ``repeats`` interleaved rounds (after one warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(repeats + 1):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            if round_:
                times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}


GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def word_bilstm(lengths: list[int], repeats: int, cell: str = "lstm") -> None:
    encoder = BiRNNEncoder(input_dim=110, hidden_size=200, num_layers=1, dropout=0.0, cell=cell)
    plan = bucketed_batches(lengths, 32, generator=torch.Generator().manual_seed(0))[:100]
    batches = [torch.tensor([lengths[i] for i in indices]) for indices in plan]
    inputs = [torch.randn(len(b), int(b.max()), 110) for b in batches]
    tokens = sum(int(b.sum()) for b in batches)
    flops = 2 * 2 * GATES[cell] * 200 * (110 + 200) * tokens  # forward FLOPs of both directions

    def train(path: Callable) -> Callable[[], None]:
        def run() -> None:
            for x, b in zip(inputs, batches):
                path(x.requires_grad_(), b).sum().backward()
        return run

    def infer(path: Callable) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode():
                for x, b in zip(inputs, batches):
                    path(x, b)
        return run

    result = best_of(repeats, {
        "packed, training": train(encoder.packed), "padded (dense), training": train(encoder.padded),
        "packed, inference": infer(encoder.packed), "padded (dense), inference": infer(encoder.padded),
    })
    print(f"\nWord Bi{cell.upper()} (input 110, hidden 200), {len(batches)} training batches of 32, {tokens:,} tokens")
    print("| path | seconds | GFLOP/s |\n|---|---|---|")
    for name, seconds in result.items():
        scale = 3 if "training" in name else 1  # forward + backward ≈ 3× forward
        print(f"| {name} | {seconds:.3f} | {scale * flops / seconds / 1e9:.1f} |")


def char_bilstm(repeats: int) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence

    generator = torch.Generator().manual_seed(0)
    widths = (torch.randn(1500, generator=generator) * 3 + 6).round().clamp(1, 20).long()
    char_ids = torch.zeros(1500, int(widths.max()), dtype=torch.long)
    for row, width in enumerate(widths.tolist()):
        char_ids[row, :width] = torch.randint(2, 80, (width,), generator=generator)
    embedding, lstm = torch.nn.Embedding(90, 25), torch.nn.LSTM(25, 25, batch_first=True, bidirectional=True)

    def packed() -> torch.Tensor:
        packed = pack_padded_sequence(embedding(char_ids), widths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = lstm(packed)
        return torch.cat([h_n[0], h_n[1]], dim=-1)

    def padded() -> torch.Tensor:
        index = reversal_index(widths, char_ids.shape[1], char_ids.device)
        chars = embedding(char_ids)
        forward = run_direction(lstm, 0, False, chars)
        backward = run_direction(lstm, 0, True, gather_steps(chars, index))
        last = (widths - 1)[:, None, None].expand(-1, 1, 25)
        return torch.cat([forward.gather(1, last), backward.gather(1, last)], dim=-1)

    result = best_of(repeats, {name: (lambda f=f: f().sum().backward()) for name, f in (("packed", packed), ("padded (oneDNN)", padded))})
    print("\nCharacter BiLSTM (25 + 25 units), 1,500 words of 1-20 characters, forward + backward")
    print("| path | ms |\n|---|---|")
    for name, seconds in result.items():
        print(f"| {name} | {1000 * seconds:.1f} |")


def inference_batches(lengths: list[int], repeats: int) -> None:
    encoder = BiRNNEncoder(input_dim=110, hidden_size=200, num_layers=1, dropout=0.0).eval()
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    plans = {
        "256 sentences each": [order[i : i + 256] for i in range(0, len(order), 256)],
        "sorted_batches(256): ≤ 256 sentences, ≤ 256 × mean length padded tokens": sorted_batches(lengths, 256),
    }
    runs, padding = {}, {}
    for name, plan in plans.items():
        shapes = [(len(b), max(lengths[i] for i in b)) for b in plan]
        padding[name] = sum(n * t for n, t in shapes) / sum(lengths)
        inputs = [(torch.randn(n, t, 110), torch.tensor([lengths[i] for i in b])) for (n, t), b in zip(shapes, plan)]

        def run(inputs: list = inputs) -> None:
            with torch.inference_mode():
                for x, b in inputs:
                    encoder(x, b)

        runs[name] = run
    result = best_of(repeats, runs)
    print(f"\nInference batches over the test set ({len(lengths):,} sentences), BiLSTM 200 units")
    print("| batches | padded / real tokens | BiLSTM seconds |\n|---|---|---|")
    for name, seconds in result.items():
        print(f"| {name} | {padding[name]:.2f} | {seconds:.3f} |")


def gc_freeze(run: str, test: Path, repeats: int) -> None:
    """Tag the test set as ``birnn-tag predict RUN eng.testb --input-format conll`` does, in a fresh
    process with and without gc.freeze() after loading."""
    print(f"\nTagging the test set (tag_stream + CoNLL formatting), {repeats} passes in a fresh process each")
    print("| garbage collector | seconds per pass: fastest | median | slowest |\n|---|---|---|---|")
    for freeze in (False, True):
        code = GC_WORKER.format(run=run, test=str(test), freeze=freeze, repeats=repeats)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times = sorted(float(t) for t in done.stdout.split()[-repeats:])
        name = "frozen after loading" if freeze else "as is"
        print(f"| {name} | {times[0]:.3f} | {statistics.median(times):.3f} | {times[-1]:.3f} |")


GC_WORKER = """
import gc, time, torch
import birnn_tag
from birnn_tag.tagging.prediction.streaming import format_prediction
torch.set_num_threads(2)
tagger = birnn_tag.load({run!r}, device="cpu")
if {freeze}:
    gc.freeze()
times = []
for _ in range({repeats}):
    started = time.perf_counter()
    with open({test!r}, "rb") as handle:
        for p in tagger.tag_stream(tagger.read_inputs(handle, "test", "conll"), confidences=False):
            format_prediction(p, "conll")
    times.append(time.perf_counter() - started)
print(*times)
"""


def precision(repeats: int) -> None:
    lstm = torch.nn.LSTM(400, 200, batch_first=True)
    inputs = torch.randn(256, 20, 400)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    variants = {}
    for dtype in (torch.float32, torch.bfloat16):
        cast_lstm = torch.nn.LSTM(400, 200, batch_first=True).to(dtype)
        cast_lstm.load_state_dict(lstm.state_dict())
        x, a_cast, b_cast = inputs.to(dtype), a.to(dtype), b.to(dtype)

        def matmul(a_cast: torch.Tensor = a_cast, b_cast: torch.Tensor = b_cast) -> None:
            for _ in range(20):
                a_cast @ b_cast

        def recur(cast_lstm: torch.nn.LSTM = cast_lstm, x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                for _ in range(5):
                    cast_lstm(x)

        variants[f"matmul 1024², {dtype}"] = (matmul, 20 * 2 * 1024**3)
        variants[f"LSTM 400→200, 256 × 20 tokens, inference, {dtype}"] = (recur, 5 * 2 * 4 * 200 * 600 * 256 * 20)
    result = best_of(repeats, {name: run for name, (run, _) in variants.items()})
    print("\nfp32 against bf16")
    print("| kernel | GFLOP/s |\n|---|---|")
    for name, seconds in result.items():
        print(f"| {name} | {variants[name][1] / seconds / 1e9:.1f} |")


def step_reordering(repeats: int) -> None:
    batch, steps, dim = 256, 40, 400  # an inference batch of the 2-layer GloVe recipe's BiLSTM
    lengths = torch.randint(1, steps + 1, (batch,), generator=torch.Generator().manual_seed(0))
    rows = reversal_index(lengths, steps, torch.device("cpu"))
    within = rows.view(batch, steps) - steps * torch.arange(batch)[:, None]  # the same order, per row

    def element_wise(x: torch.Tensor) -> torch.Tensor:
        return x.gather(1, within[:, :, None].expand_as(x))

    def row_wise(x: torch.Tensor) -> torch.Tensor:
        return gather_steps(x, rows)

    variants = {}
    for dtype in (torch.float32, torch.bfloat16):
        inputs = torch.randn(batch, steps, dim).to(dtype).requires_grad_()
        grad = torch.randn(batch, steps, dim).to(dtype)
        assert torch.equal(element_wise(inputs), row_wise(inputs))
        for name, reorder in (("element-wise gather", element_wise), ("row index_select", row_wise)):
            def forward(reorder: Callable = reorder, inputs: torch.Tensor = inputs) -> None:
                with torch.no_grad():
                    for _ in range(10):
                        reorder(inputs)

            def backward(reorder: Callable = reorder, inputs: torch.Tensor = inputs, grad: torch.Tensor = grad) -> None:
                for _ in range(10):
                    torch.autograd.grad(reorder(inputs), inputs, grad)

            variants[f"{name}, {dtype}, forward"] = forward
            variants[f"{name}, {dtype}, forward + backward"] = backward
    result = best_of(repeats, variants)
    print(f"\nreversing steps within lengths, {batch} × {steps} × {dim}")
    print("| variant | ms per call |\n|---|---|")
    for name, seconds in result.items():
        print(f"| {name} | {seconds * 100:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/conll2003"))
    parser.add_argument("--run", help="a trained tagging run for the garbage-collector comparison (skipped without)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", nargs="+", default=["lstm"], choices=list(GATES), help="word encoder cells to time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads, torch {torch.__version__}")
    for cell in args.cells:
        word_bilstm(sentence_lengths(args.data / "eng.train"), args.repeats, cell)
    char_bilstm(args.repeats)
    inference_batches(sentence_lengths(args.data / "eng.testb"), args.repeats)
    precision(args.repeats)
    step_reordering(args.repeats)
    if args.run:
        gc_freeze(args.run, (args.data / "eng.testb").resolve(), max(3, args.repeats))


if __name__ == "__main__":
    main()
