"""Command line: parse, validate, call the public API (:mod:`birnn_tag.api`), print a summary.

Library code raises :class:`BirnnTagError`; :func:`user_errors` turns it into one line on stderr
and exit code 1, so users never see a traceback for a problem they can fix.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from birnn_tag.cli.view import TrainingView
from birnn_tag.errors import BirnnTagError
from birnn_tag.cli.options import Device, EvaluateOptions, InputFormat, OutputFormat, PredictOptions, Precision

app = typer.Typer(no_args_is_help=True, help="Train, evaluate and run BiLSTM sequence taggers.")
# Markup off: messages carry user values and install hints ("pip install 'birnn-tag[plots]'")
# whose square brackets rich would otherwise swallow as tags. Styles come as Text instead.
stderr = Console(stderr=True, markup=False)
stdout = Console(markup=False)
ERROR = Text("error:", style="bold red")
WARNING = Text("warning:", style="yellow")
PRECISION_HELP = "Tagging: auto is bf16 on hardware with native bf16. Default: training.eval_precision."


@contextmanager
def user_errors() -> Iterator[None]:
    """Report library errors as ``error: <message>`` and exit 1 (130 on Ctrl-C)."""
    try:
        yield
    except BirnnTagError as error:
        stderr.print(ERROR, str(error), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        stderr.print("interrupted")
        raise typer.Exit(130) from None
    except BrokenPipeError:  # `birnn-tag predict ... | head`: the reader has all it wants
        _discard_stdout()
        raise typer.Exit(0) from None
    except OSError as error:  # the file system refused (full, read-only...): one line, no traceback
        try:
            sys.stdout.flush()
        except OSError:  # stdout itself failed: it would fail again when Python flushes it at exit
            _discard_stdout()
        where = f"{error.filename}: " if error.filename else ""
        stderr.print(ERROR, f"{where}{error.strerror or error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _discard_stdout() -> None:
    """Point stdout at the null device, so what is still buffered can be flushed at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=stderr, show_path=False)])


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key: section.key=value (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in output.dir from its last.pt.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
) -> None:
    """Train a tagger; writes a run folder with config, vocab, checkpoints, metrics and reports."""
    from birnn_tag import api
    from birnn_tag.config import load_config

    _setup_logging()
    with user_errors():
        overrides = list(set_ or []) + (["output.overwrite=true"] if overwrite else [])
        resolved = load_config(config, overrides)
        with TrainingView(stderr, progress=resolved.training.progress) as view:
            run_dir = api.train(resolved, resume=resume, on_event=view.show)
    stderr.print(f"run folder: {run_dir}")


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    split: Annotated[str, typer.Option(help="Split of the run's data to score.")] = "test",
    data: Annotated[Optional[Path], typer.Option(help="Score this file instead (read like the run's data).")] = None,
    device: Annotated[Device, typer.Option(help="Where to run: auto picks CUDA when available.")] = Device.auto,
    fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cloze: score this random fraction of positions.")] = 1.0,
    count_unk: Annotated[bool, typer.Option(help="Cloze: score <unk> targets too (excluded by default).")] = False,
    precision: Annotated[Optional[Precision], typer.Option(help=PRECISION_HELP)] = None,
    confusion: Annotated[Optional[Path], typer.Option(help="Tagging: also draw the gold × predicted confusion matrix to this PNG.")] = None,
) -> None:
    """Score a trained model: entity P/R/F1 (tagging) or top-k accuracy and perplexity (cloze)."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        model = api.load(run, device.value, precision.value if precision else None)
        report = model.evaluate_command(split, data, EvaluateOptions(fraction, count_unk))
    # The scores are shown before they are saved: a read-only run folder must not hide them.
    stdout.print(report.table(str(data or f"{split} split")))
    with user_errors():
        folder = run if run.is_dir() else run.parent
        stem = folder / (f"report-data-{data.name}" if data else f"report-{split}")
        report.save(stem)
        if confusion is not None:
            matrix = report.confusion() if hasattr(report, "confusion") else None
            if matrix is None:
                raise BirnnTagError("--confusion: applies to tagging models")
            from birnn_tag.runs.plots import plot_confusion

            what = "entity types" if report.scheme != "none" else "labels"
            plot_confusion(*matrix, confusion, f"{what}: gold × predicted ({data or split})")
            stderr.print(f"drew {confusion}")
    stderr.print(f"saved {stem}.txt and {stem}.json")


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    input: Annotated[str, typer.Argument(help="Input file, or - for stdin.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or - for stdout.")] = "-",
    output_format: Annotated[Optional[OutputFormat], typer.Option("--format", help="Tagging: conll (default) or jsonl. Cloze: jsonl (default) or text.")] = None,
    input_format: Annotated[InputFormat, typer.Option(help="Tagging: text, pretokenized, conll or conllu. Cloze: text or jsonl. auto: by the file's extension (.conll, .conllu, .jsonl), else text.")] = InputFormat.auto,
    pretokenized: Annotated[bool, typer.Option(help="Same as --input-format pretokenized.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    device: Annotated[Device, typer.Option(help="Where to run: auto picks CUDA when available.")] = Device.auto,
    top_k: Annotated[int, typer.Option(min=1, help="Cloze: candidates per blank.")] = 10,
    k_best: Annotated[int, typer.Option(min=0, max=100, help="Tagging, CRF heads, JSONL: add each sentence's K most probable tag sequences.")] = 0,
    min_confidence: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Tagging, JSONL: leave out spans less confident than this.")] = None,
    choices: Annotated[Optional[str], typer.Option(help="Cloze: rank only these comma-separated words.")] = None,
    blank: Annotated[str, typer.Option(help="Cloze: the blank marker ([MASK] is always accepted).")] = "___",
    precision: Annotated[Optional[Precision], typer.Option(help=PRECISION_HELP)] = None,
) -> None:
    """Tag text, pre-tokenized lines or a CoNLL / CoNLL-U file; or fill in the blanks (cloze models)."""
    from birnn_tag import api
    from birnn_tag.files import open_output

    _setup_logging()
    options = PredictOptions(
        InputFormat.pretokenized if pretokenized else input_format, output_format, batch_size, top_k, k_best,
        min_confidence, choices, blank,
    )
    with user_errors():
        model = api.load(run, device.value, precision.value if precision else None)
        # The model and vocabularies live until exit: exempting them from the cyclic garbage
        # collector's full passes makes tagging faster (docs/benchmarks.md).
        gc.freeze()
        name = input if input != "-" else "<stdin>"
        results = model.predict_command(name, options, warn=_warn)
        with _open_input(input) as handle, open_output(output, input_name=input) as sink:
            count = 0
            for text in results(handle):
                sink.write(text)
                count += 1
    if output != "-":
        stderr.print(f"wrote {count:,} results → {output}")


@app.command()
def plot(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (their metrics.jsonl).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")],
) -> None:
    """Draw runs' learning curves (training loss, dev scores, learning rate per epoch), overlaid."""
    from birnn_tag.runs.plots import plot_curves

    with user_errors():
        plot_curves(runs, output)
    stderr.print(f"drew {output}")


@app.command()
def calibrate(run: Annotated[Path, typer.Argument(help="Run folder (its best.pt) or checkpoint of a tagging run.")]) -> None:
    """Fit the confidences' temperature on the run's validation split and save it in the checkpoint (train does this after its last epoch; this is for runs trained before)."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        fitted = api.calibrate(run)
    stderr.print(
        f"{run}: temperature {fitted.temperature:.3f}, validation NLL per token "
        f"{fitted.nll_before:.4f} → {fitted.nll_after:.4f} ({fitted.pieces:,} pieces)"
    )


@app.command("check-data")
def check_data(
    config: Annotated[Path, typer.Argument(help="YAML config file of a tagging run.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key: section.key=value (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 on warnings too.")] = False,
) -> None:
    """Check a config's data before training: sizes, labels, schemes, invalid transitions, labels missing from train, repeated and shared sentences, long sentences, vectors' coverage. Exit 1 on errors (and on warnings with --strict)."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        result = api.check_data(config, list(set_ or []))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        stdout.print(result.table())
    if result.errors or (strict and result.warnings):
        raise typer.Exit(1)


@app.command(context_settings={"ignore_unknown_options": True})
def compare(
    runs: Annotated[list[str], typer.Argument(help="RUN_A RUN_B, or --a RUN... --b RUN... (seed groups).", show_default=False)],
    split: Annotated[str, typer.Option(help="Split of the runs' data to tag.")] = "test",
    data: Annotated[Optional[Path], typer.Option(help="Tag this file instead (read like the first run's data).")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Bootstrap samples.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the bootstrap draws.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    device: Annotated[Device, typer.Option(help="Where to run: auto picks CUDA when available.")] = Device.auto,
) -> None:
    """Is B better than A? Scores, B − A with its 95 % interval and p-value (paired bootstrap over sentences), overall and per type."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        side_a, side_b = _sides(runs)
        result = api.compare(side_a, side_b, split=split, data=data, samples=samples, seed=seed, device=device.value)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        stdout.print(result.table(f"B vs A on {data or f'the {split} split'}"))


def _sides(runs: list[str]) -> tuple[list[str], list[str]]:
    """``RUN_A RUN_B``, or ``--a RUN... --b RUN...``."""
    if "--a" not in runs and "--b" not in runs:
        if len(runs) != 2 or any(run.startswith("-") for run in runs):
            raise BirnnTagError(f"compare: expected RUN_A RUN_B or --a RUN... --b RUN..., got {' '.join(runs)}")
        return [runs[0]], [runs[1]]
    if runs.count("--a") != 1 or runs.count("--b") != 1 or runs[0] not in ("--a", "--b"):
        raise BirnnTagError("compare: give each of --a and --b once, each followed by its runs")
    a, b = runs.index("--a"), runs.index("--b")
    side_a = runs[a + 1 : b] if a < b else runs[a + 1 :]
    side_b = runs[b + 1 :] if a < b else runs[b + 1 : a]
    for name, side in (("--a", side_a), ("--b", side_b)):
        unknown = [run for run in side if run.startswith("-")]
        if not side or unknown:
            raise BirnnTagError(f"compare: {name} needs runs" + (f"; unknown option {unknown[0]}" if unknown else ""))
    return side_a, side_b


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file of a tagging run.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The export folder to create.")],
    export_format: Annotated[str, typer.Option("--format", help="Only onnx.")] = "onnx",
    opset: Annotated[Optional[int], typer.Option(min=9, help="ONNX opset (default 17).")] = None,
    check: Annotated[bool, typer.Option(help="Tag a split of the run's data with PyTorch and onnxruntime; fail unless the tags are identical.")] = False,
    check_split: Annotated[str, typer.Option(help="The split --check tags.")] = "test",
    check_sentences: Annotated[Optional[int], typer.Option(min=1, help="--check only the first N sentences.")] = None,
) -> None:
    """Export a tagger as an ONNX folder (Viterbi inside the graph) that `predict` and `birnn_tag.load` run with onnxruntime alone."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        if export_format != "onnx":
            raise BirnnTagError(f"--format {export_format!r}: the only export format is onnx")
        folder, result = api.export(
            run, output, opset=opset, check_split=check_split if check else None, check_sentences=check_sentences
        )
    stderr.print(f"exported {run} → {folder}")
    if result is not None:
        stderr.print(result.summary(), highlight=False)


@app.command()
def serve(
    model: Annotated[Path, typer.Argument(help="Run folder, checkpoint file or export folder.")],
    host: Annotated[str, typer.Option(help="Address to bind: loopback by default; there is no authentication.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    max_batch: Annotated[int, typer.Option(min=1, help="Sentences (tagging) or requests (cloze) run together at most.")] = 256,
    max_wait_ms: Annotated[float, typer.Option(min=0.0, max=10_000.0, help="How long a batch waits for more requests.")] = 5.0,
    max_texts: Annotated[int, typer.Option(min=1, help="Texts or sentences per request at most (more: 413).")] = 1000,
    max_chars: Annotated[int, typer.Option(min=1, help="Characters per request at most (more: 413).")] = 1_000_000,
    device: Annotated[Device, typer.Option(help="Where a run's model runs: auto picks CUDA when available.")] = Device.auto,
    precision: Annotated[Optional[Precision], typer.Option(help=PRECISION_HELP)] = None,
    grace: Annotated[float, typer.Option(min=0.0, help="On SIGTERM or Ctrl-C, seconds to finish the accepted requests; any still running then are cut (exit 1).")] = 30.0,
) -> None:
    """Serve a model over HTTP: POST /tag (taggers) or /fill (cloze), GET /health and /info. SIGTERM or Ctrl-C refuses new requests (503), finishes the accepted ones and exits."""
    from birnn_tag import api

    _setup_logging()
    with user_errors():
        try:
            from birnn_tag.service.app import Limits, create_app
            from birnn_tag.service.server import bind, run
        except ImportError as error:
            raise BirnnTagError(f"serving needs FastAPI and uvicorn: pip install 'birnn-tag[serve]' ({error})") from None
        loaded = api.load(model, device.value, precision.value if precision else None)
        limits = Limits(items=max_texts, chars=max_chars)
        service = create_app(loaded, max_batch=max_batch, max_wait=max_wait_ms / 1000, limits=limits)
        listener = bind(host, port)
        bound = listener.getsockname()[1]
        stderr.print(f"serving {model} on http://{host}:{bound} (no authentication: keep it on loopback or behind a proxy)", soft_wrap=True)
        cut = run(service, listener, grace)
    if cut:
        stderr.print(ERROR, f"{cut} accepted request(s) cut: not finished within the grace period of {grace:g} s (--grace)", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    stderr.print("stopped")


def _warn(message: str) -> None:
    stderr.print(WARNING, message, highlight=False)


@contextmanager
def _open_input(name: str):
    if name == "-":
        yield sys.stdin.buffer
        return
    path = Path(name)
    if path.is_dir():
        raise BirnnTagError(f"{path}: is a folder, not an input file")
    if not path.exists():
        raise BirnnTagError(f"{path}: input file not found")
    try:
        handle = path.open("rb")
    except OSError as error:
        raise BirnnTagError(f"{path}: cannot read: {error.strerror}") from None
    with handle:
        yield handle


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
