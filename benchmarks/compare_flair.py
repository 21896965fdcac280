"""Training and prediction throughput of birnn-tag against Flair's SequenceTagger, same architecture.

One run, one machine, one thread count, one system at a time: each trains one epoch of CoNLL-2003
and then tags its test set, in its own process, and reports sentences/s and tokens/s.

    .venv/bin/python benchmarks/compare_flair.py --threads 2
    .venv/bin/python benchmarks/compare_flair.py --limit 300     # a quick check on 300 sentences per split

The architecture is the same on both sides (SETTINGS below: Flair 0.15.1's defaults): word
embeddings learned from scratch (Flair's OneHotEmbeddings; words seen at least 3 times), a
character BiLSTM (Flair's CharacterEmbeddings), one BiLSTM layer of 256 per direction and a CRF,
trained by plain SGD with gradient-norm clipping. Differences that remain are printed with the
results.

Flair is not a dependency of this project: the first run creates ``.flair-venv`` and installs
torch (pinned, first: a bare torch requirement would pull GBs of CUDA packages) and then Flair
there; later runs reuse it. Training time covers one epoch over the training split, batching
included, without corpus loading or evaluation; prediction time covers tagging the test sentences.

Run it on an otherwise idle machine: torch's thread pool stalls when other processes hold the
cores (2 threads beside two busy 1-thread trainings on 2 cores: 55 s for 300 sentences instead of
1 s). The load average before the run is printed with the results.

Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLAIR_VENV = ROOT / ".flair-venv"
FLAIR_PYTHON = FLAIR_VENV / "bin" / "python"
TORCH_VERSION = "2.13.0"
FLAIR_VERSION = "0.15.1"
# Used only when FLAIR_VERSION cannot be installed: the nearest release line.
FLAIR_FALLBACK = "flair~=0.15.0"
CONLL_FILES = {"train": "eng.train", "validation": "eng.testa", "test": "eng.testb"}

# One architecture and optimiser for both systems, Flair 0.15.1's defaults: OneHotEmbeddings.from_corpus
# (embedding_length 300, min_freq 3), CharacterEmbeddings (char_embedding_dim 25, hidden_size_char
# 25), SequenceTagger (hidden_size 256, word_dropout 0.05, locked_dropout 0.5, dropout 0.0); and
# ModelTrainer.train's optimizer (SGD, lr 0.1, no momentum) and max_grad_norm (5.0).
SETTINGS: dict[str, Any] = {
    "word_dim": 300,
    "min_freq": 3,
    "char_dim": 25,
    "char_hidden_size": 25,
    "hidden_size": 256,
    "num_layers": 1,
    "word_dropout": 0.05,
    "dropout": 0.5,
    "lr": 0.1,
    "clip_grad_norm": 5.0,
    "seed": 1,
}

# What could not be made the same, printed under the results.
MISMATCHES = [
    ("batches: birnn-tag draws shuffled length-bucketed batches (its own data path); Flair's DataLoader "
     "shuffles sentences and pads each batch to its longest sentence"),
    ("dropout 0.5 on the embeddings and on the BiLSTM output: Flair's is locked (one mask per sentence), "
     "birnn-tag's per element; word dropout 0.05: Flair zeroes a word's whole vector, birnn-tag swaps it for <unk>"),
    ("loss: Flair sums the CRF negative log-likelihood over a batch, birnn-tag averages it (same work, "
     "a 32x different step at the same lr; neither changes the timing)"),
    ("Flair: reproject_embeddings=False (its default adds a 350x350 linear layer before the BiLSTM, "
     "which birnn-tag does not have); its character dictionary is built from the training split, as "
     "birnn-tag's (the default 'common-chars' is a download)"),
    ("birnn-tag: model.constrained=false (Flair's Viterbi does not constrain transitions), data.scheme=BIOES "
     "(Flair's tag format), encoding.normalize_digits=false (Flair looks up the raw text)"),
    "CRF: Flair scores 19 tags (the 17 BIOES tags plus START and STOP), birnn-tag 17 with separate start and end scores",
]


# ---------------------------------------------------------------- setup


def installed_versions() -> dict[str, str] | None:
    """torch's and flair's versions in the Flair environment, or None when either is missing."""
    if not FLAIR_PYTHON.exists():
        return None
    probe = "import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in ('torch', 'flair')}))"
    completed = subprocess.run([str(FLAIR_PYTHON), "-c", probe], check=False, capture_output=True, text=True)
    return json.loads(completed.stdout) if completed.returncode == 0 else None


def pip_install(requirement: str, constraints: Path) -> bool:
    """Install one requirement into the Flair environment; print pip's output only if it fails."""
    command = [str(FLAIR_PYTHON), "-m", "pip", "install", "-q", "-c", str(constraints), requirement]
    print("+", " ".join(command), file=sys.stderr, flush=True)
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        print(completed.stdout + completed.stderr, file=sys.stderr)
    return completed.returncode == 0


def ensure_flair_venv() -> None:
    """Create .flair-venv with torch and Flair unless it already has them; exit if pip fails."""
    versions = installed_versions()
    if versions and versions["torch"].split("+")[0] == TORCH_VERSION:
        return
    started = time.perf_counter()
    if not FLAIR_PYTHON.exists():
        venv.create(FLAIR_VENV, with_pip=True)
    with tempfile.TemporaryDirectory() as scratch:
        # The constraint keeps Flair's dependency resolution from replacing the pinned torch.
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text(f"torch=={TORCH_VERSION}\n")
        if not pip_install(f"torch=={TORCH_VERSION}", constraints):
            sys.exit(f"compare_flair: could not install torch=={TORCH_VERSION} into {FLAIR_VENV}")
        if not pip_install(f"flair=={FLAIR_VERSION}", constraints):
            print(f"compare_flair: flair=={FLAIR_VERSION} failed; trying {FLAIR_FALLBACK}", file=sys.stderr)
            if not pip_install(FLAIR_FALLBACK, constraints):
                sys.exit(f"compare_flair: could not install Flair into {FLAIR_VENV}")
    print(f"compare_flair: set up {FLAIR_VENV.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


# ---------------------------------------------------------------- data


def read_sentences(path: Path) -> list[list[str]]:
    """A CoNLL file's sentences as lists of lines, without -DOCSTART- lines."""
    sentences: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if sentences[-1]:
                sentences.append([])
        elif not line.startswith("-DOCSTART-"):
            sentences[-1].append(line)
    return [sentence for sentence in sentences if sentence]


def prepare_data(source: Path, target: Path, limit: int | None) -> None:
    """Copy each split into ``target``, at most ``limit`` sentences, without -DOCSTART- lines.

    Both systems then read the very same sentences: birnn-tag skips -DOCSTART- lines, but Flair's
    ColumnCorpus would keep each one as a one-token sentence.
    """
    for name in CONLL_FILES.values():
        sentences = read_sentences(source / name)[:limit]
        (target / name).write_text("".join("\n".join(s) + "\n\n" for s in sentences), encoding="utf-8")


# ---------------------------------------------------------------- workers (one process each)


def birnn_tag_overrides(data_dir: Path, batch_size: int, threads: int) -> list[str]:
    """``--set`` overrides that turn configs/conll2003.yaml into SETTINGS on ``data_dir``."""
    a = SETTINGS
    return [
        *(f"data.{split}={data_dir / name}" for split, name in CONLL_FILES.items()),
        "data.scheme=BIOES",
        f"encoding.min_freq={a['min_freq']}",
        "encoding.normalize_digits=false",
        "encoding.lowercase=false",
        "encoding.max_word_length=100",  # Flair never cuts a word; CoNLL's longest has 61 characters
        "model.embeddings=null",
        f"model.word_dim={a['word_dim']}",
        f"model.word_dropout={a['word_dropout']}",
        "model.casing_dim=0",
        "model.char_encoder=lstm",
        f"model.char_dim={a['char_dim']}",
        f"model.char_hidden_size={a['char_hidden_size']}",
        f"model.hidden_size={a['hidden_size']}",
        f"model.num_layers={a['num_layers']}",
        f"model.dropout={a['dropout']}",
        "model.head=crf",
        "model.constrained=false",
        "training.optimizer=sgd",
        f"training.lr={a['lr']}",
        "training.momentum=0.0",
        f"training.clip_grad_norm={a['clip_grad_norm']}",
        f"training.batch_size={batch_size}",
        "training.epochs=1",
        f"training.seed={a['seed']}",
        "training.device=cpu",
        f"training.threads={threads}",
        "training.progress=false",
    ]


def birnn_tag_worker(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train one epoch and tag the test split with birnn-tag's own code paths (as the CLI does)."""
    import torch

    from birnn_tag.runs.checkpoint import LoadedModel
    from birnn_tag.config import load_config
    from birnn_tag.data.reading.sources import read_file
    from birnn_tag.training.epoch import make_optimizer, train_epoch
    from birnn_tag.tagging.prediction.streaming import InputSentence
    from birnn_tag.tagging.public.pytorch import TaggingModel
    from birnn_tag.tasks import task_for

    config = load_config(ROOT / "configs/conll2003.yaml", birnn_tag_overrides(data_dir, args.batch_size, args.threads))
    device = torch.device("cpu")
    task = task_for(config)
    corpus = task.read(config)
    config = task.settle(config, corpus)
    vocabs, splits = task.encode_splits(config, corpus, None)
    torch.manual_seed(config.training.seed)
    model = task.build_model(config, vocabs)
    optimizer = make_optimizer(model, config.training)
    train = splits["train"].sentences

    started = time.perf_counter()
    stats = train_epoch(model, train, optimizer, config.training, 1, device, None)
    train_seconds = time.perf_counter() - started

    test = read_file(config.data.test, config.data)
    inputs = [InputSentence.from_tokens(tokens) for tokens in test["tokens"]]
    loaded = LoadedModel(config, vocabs, model.eval(), None)
    started = time.perf_counter()
    predicted = list(TaggingModel(loaded, device).tag_stream(inputs, batch_size=config.training.eval_batch_size))
    predict_seconds = time.perf_counter() - started
    return {
        "train_sentences": len(train),
        "train_tokens": stats["train_tokens"],
        "train_seconds": train_seconds,
        "test_sentences": len(predicted),
        "test_tokens": sum(len(p.tags) for p in predicted),
        "predict_seconds": predict_seconds,
        "predict_batch_size": config.training.eval_batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
    }


def flair_worker(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train one epoch and tag the test split with Flair's SequenceTagger.

    The training loop is ModelTrainer's inner loop without its evaluation, logging and
    checkpointing: shuffled mini-batches, ``forward_loss``, backward, dropping the batch's token
    embeddings (``store_embeddings(batch, "none")``), clipping, SGD step.
    """
    import logging

    import flair
    import torch
    from flair.data import Dictionary
    from flair.datasets import ColumnCorpus, DataLoader
    from flair.embeddings import (
        CharacterEmbeddings,
        OneHotEmbeddings,
        StackedEmbeddings,
    )
    from flair.models import SequenceTagger
    from flair.training_utils import store_embeddings

    logging.getLogger("flair").setLevel(logging.WARNING)  # OneHotEmbeddings logs its whole vocabulary
    flair.device = torch.device("cpu")
    a = SETTINGS
    files = {"train_file": CONLL_FILES["train"], "dev_file": CONLL_FILES["validation"], "test_file": CONLL_FILES["test"]}
    corpus = ColumnCorpus(data_dir, {0: "text", 3: "ner"}, **files)
    train, test = list(corpus.train), list(corpus.test)
    chars = Dictionary()
    for sentence in train:
        for token in sentence:
            for char in token.text:
                chars.add_item(char)

    flair.set_seed(a["seed"])
    embeddings = StackedEmbeddings([
        OneHotEmbeddings.from_corpus(corpus, min_freq=a["min_freq"], embedding_length=a["word_dim"]),
        CharacterEmbeddings(chars, char_embedding_dim=a["char_dim"], hidden_size_char=a["char_hidden_size"]),
    ])
    tagger = SequenceTagger(
        embeddings,
        corpus.make_label_dictionary("ner", add_unk=False),
        "ner",
        use_rnn=True,
        rnn_layers=a["num_layers"],
        hidden_size=a["hidden_size"],
        use_crf=True,
        reproject_embeddings=False,
        dropout=0.0,
        word_dropout=a["word_dropout"],
        locked_dropout=a["dropout"],
    )
    # Fused, like birnn-tag's make_optimizer: the step is then the same work on both sides.
    optimizer = torch.optim.SGD(tagger.parameters(), lr=a["lr"], fused=True)

    tagger.train()
    started = time.perf_counter()
    for batch in DataLoader(corpus.train, batch_size=args.batch_size, shuffle=True):
        optimizer.zero_grad(set_to_none=True)
        loss, _ = tagger.forward_loss(batch)
        loss.backward()
        store_embeddings(batch, "none")
        torch.nn.utils.clip_grad_norm_(tagger.parameters(), a["clip_grad_norm"])
        optimizer.step()
    train_seconds = time.perf_counter() - started

    tagger.eval()
    started = time.perf_counter()
    tagger.predict(test, mini_batch_size=args.flair_predict_batch_size)
    predict_seconds = time.perf_counter() - started
    return {
        "train_sentences": len(train),
        "train_tokens": sum(len(s) for s in train),
        "train_seconds": train_seconds,
        "test_sentences": len(test),
        "test_tokens": sum(len(s) for s in test),
        "predict_seconds": predict_seconds,
        "predict_batch_size": args.flair_predict_batch_size,
        "parameters": sum(p.numel() for p in tagger.parameters()),
        "torch": torch.__version__,
        "flair": flair.__version__,
    }


WORKERS = {"birnn-tag": birnn_tag_worker, "flair": flair_worker}


def run_worker(name: str, python: Path | str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one system's worker in a fresh process with ``python``; return its JSON result.

    The worker's own stdout (libraries may print there) goes to stderr, except its last line.
    """
    command = [
        str(python), str(Path(__file__).resolve()), "--worker", name, "--data-dir", str(data_dir),
        "--threads", str(args.threads), "--batch-size", str(args.batch_size),
        "--flair-predict-batch-size", str(args.flair_predict_batch_size),
    ]
    # Thread pools outside torch (OpenMP users such as numpy) get the same limit.
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    print(f"compare_flair: running {name} ...", file=sys.stderr, flush=True)
    completed = subprocess.run(command, check=False, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    *chatter, last = completed.stdout.splitlines() or [""]
    if chatter:
        print("\n".join(chatter), file=sys.stderr)
    if completed.returncode != 0:
        sys.exit(f"compare_flair: the {name} worker failed (exit {completed.returncode})")
    return json.loads(last)


def worker_main(args: argparse.Namespace) -> None:
    """Inside a worker process: set the thread count, measure, print one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    result = WORKERS[args.worker](Path(args.data_dir), args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(result))


# ---------------------------------------------------------------- report


def table_row(system: str, r: dict[str, Any]) -> str:
    """One markdown row: training and prediction throughput and peak RSS."""
    train, predict = r["train_seconds"], r["predict_seconds"]
    return (
        f"| {system} | {train:.1f} | {r['train_sentences'] / train:,.0f} | {r['train_tokens'] / train:,.0f} "
        f"| {r['test_sentences'] / predict:,.0f} | {r['test_tokens'] / predict:,.0f} | {r['peak_rss_mb']:,.0f} MB |"
    )


def ratio(ours: dict[str, Any], flair: dict[str, Any], count: str, seconds: str) -> float:
    """birnn-tag's throughput over Flair's, ``count`` items per ``seconds``."""
    return (ours[count] / ours[seconds]) / (flair[count] / flair[seconds])


def report(ours: dict[str, Any], flair: dict[str, Any], args: argparse.Namespace, load: float) -> str:
    """The markdown block: setting, table, ratios and the mismatches that remain."""
    a = SETTINGS
    flair_name = f"Flair {flair['flair']}"
    data = f"first {args.limit} sentences of each split" if args.limit else "full splits"
    lines = [
        (f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, one system at a time, "
         f"load average {load:.2f} before the run; "
         f"birnn-tag on torch {ours['torch']}, {flair_name} on torch {flair['torch']}"),
        (f"data: {args.data} ({data}, -DOCSTART- lines dropped): {ours['train_sentences']:,} training sentences "
         f"({ours['train_tokens']:,} tokens), {ours['test_sentences']:,} test sentences ({ours['test_tokens']:,} tokens)"),
        (f"model (both): words seen ≥ {a['min_freq']} times → {a['word_dim']}-d embeddings learned from scratch ⊕ "
         f"char BiLSTM {a['char_dim']}-d chars, {a['char_hidden_size']} per direction → BiLSTM {a['num_layers']} × "
         f"{a['hidden_size']} → CRF (BIOES); dropout {a['dropout']}, word dropout {a['word_dropout']}; "
         f"parameters: birnn-tag {ours['parameters']:,}, Flair {flair['parameters']:,}"),
        (f"training: one epoch, batch {args.batch_size}, SGD lr {a['lr']} (fused), no momentum, "
         f"gradient norm clipped at {a['clip_grad_norm']}; Flair: its ModelTrainer loop without evaluation"),
        (f"prediction: test split, birnn-tag tag_stream batch {ours['predict_batch_size']} (its default), "
         f"Flair SequenceTagger.predict mini_batch_size {flair['predict_batch_size']}"),
        "",
        "| system | train s | train sent/s | train tok/s | predict sent/s | predict tok/s | peak RSS |",
        "|---|---|---|---|---|---|---|",
        table_row("birnn-tag", ours),
        table_row(flair_name, flair),
        "",
        (f"birnn-tag / Flair, training: {ratio(ours, flair, 'train_sentences', 'train_seconds'):.2f}× sentences/s, "
         f"{ratio(ours, flair, 'train_tokens', 'train_seconds'):.2f}× tokens/s"),
        (f"birnn-tag / Flair, prediction: {ratio(ours, flair, 'test_sentences', 'predict_seconds'):.2f}× sentences/s, "
         f"{ratio(ours, flair, 'test_tokens', 'predict_seconds'):.2f}× tokens/s"),
    ]
    counts = ("train_sentences", "train_tokens", "test_sentences", "test_tokens")
    if any(ours[key] != flair[key] for key in counts):
        lines.append("WARNING: the systems saw different data: " + ", ".join(f"{k} {ours[k]} vs {flair[k]}" for k in counts))
    if flair["flair"] != FLAIR_VERSION:
        lines.append(f"note: Flair {FLAIR_VERSION} could not be installed; this is {flair['flair']}")
    lines += ["", "Differences that remain:", *(f"- {m}" for m in MISMATCHES)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in each system's process")
    parser.add_argument("--batch-size", type=int, default=32, help="training mini-batch (sentences)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences of each split")
    parser.add_argument("--data", default="../shared/data/conll2003", help="folder with eng.train/testa/testb (from the repo root)")
    parser.add_argument("--flair-predict-batch-size", type=int, default=32, help="Flair's predict() mini_batch_size (its default; 256 was slower)")
    # Internal: run one system's measurement (this file is the worker too, under each interpreter).
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    if importlib.util.find_spec("birnn_tag") is None:
        sys.exit("compare_flair: birnn_tag is not importable; run with the project's interpreter (.venv/bin/python)")
    source = ROOT / args.data
    if missing := [name for name in CONLL_FILES.values() if not (source / name).is_file()]:
        sys.exit(f"compare_flair: {source} lacks {', '.join(missing)}")
    ensure_flair_venv()
    load = os.getloadavg()[0]  # other work on the cores skews every number below
    with tempfile.TemporaryDirectory(prefix="compare-flair-") as scratch:
        prepare_data(source, Path(scratch), args.limit)
        ours = run_worker("birnn-tag", sys.executable, Path(scratch), args)
        flair = run_worker("flair", FLAIR_PYTHON, Path(scratch), args)
    print(report(ours, flair, args, load))


if __name__ == "__main__":
    main()
