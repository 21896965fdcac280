"""Command line: parse, validate, call the library, print a summary.

Library code raises :class:`BirnnTagError`; :func:`user_errors` turns it into one line on stderr
and exit code 1, so users never see a traceback for a problem they can fix.
"""

from __future__ import annotations

import gc
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

from birnn_tag.errors import BirnnTagError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, evaluate and run BiLSTM sequence taggers.")
stderr = Console(stderr=True)
PRECISION_HELP = "Tagging: fp32, bf16 or auto (bf16 on native hardware). Default: training.eval_precision."


@contextmanager
def user_errors() -> Iterator[None]:
    """Report library errors as ``error: <message>`` and exit 1 (130 on Ctrl-C)."""
    try:
        yield
    except BirnnTagError as error:
        stderr.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
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
        stderr.print(f"[bold red]error:[/] {where}{error.strerror or error}", highlight=False, soft_wrap=True)
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
    from birnn_tag.config import load_config
    from birnn_tag.training import train as run_training

    _setup_logging()
    with user_errors():
        overrides = list(set_ or []) + (["output.overwrite=true"] if overwrite else [])
        resolved = load_config(config, overrides)
        run_dir = run_training(resolved, resume=resume, console=stderr)
    stderr.print(f"run folder: {run_dir}")


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    split: Annotated[str, typer.Option(help="Split of the run's data to score.")] = "test",
    data: Annotated[Optional[Path], typer.Option(help="Score this file instead (read like the run's data).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cloze: score this random fraction of positions.")] = 1.0,
    count_unk: Annotated[bool, typer.Option(help="Cloze: score <unk> targets too (excluded by default).")] = False,
    precision: Annotated[Optional[str], typer.Option(help=PRECISION_HELP)] = None,
) -> None:
    """Score a trained model: entity P/R/F1 (tagging) or top-k accuracy and perplexity (cloze)."""
    from birnn_tag.checkpoint import load_model
    from birnn_tag.cloze_evaluation import evaluate_cloze_checkpoint
    from birnn_tag.evaluation import evaluate_checkpoint
    from birnn_tag.devices import resolve_device

    _setup_logging()
    with user_errors():
        target = resolve_device(device)
        loaded = load_model(run, target)
        _check_precision(precision, loaded.config.task)
        data_file = str(data) if data else None
        if loaded.config.task == "cloze":
            report = evaluate_cloze_checkpoint(
                loaded, split=split, data_file=data_file, fraction=fraction, count_unk=count_unk, device=target
            )
        else:
            report = evaluate_checkpoint(loaded, split=split, data_file=data_file, device=target, precision=precision)
    # The scores are shown before they are saved: a read-only run folder must not hide them.
    Console().print(report.table(str(data or f"{split} split")))
    with user_errors():
        folder = run if run.is_dir() else run.parent
        stem = folder / (f"report-data-{data.name}" if data else f"report-{split}")
        report.save(stem)
    stderr.print(f"saved {stem}.txt and {stem}.json")


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    input: Annotated[str, typer.Argument(help="Input file, or - for stdin.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or - for stdout.")] = "-",
    output_format: Annotated[Optional[str], typer.Option("--format", help="Tagging: conll (default) or jsonl. Cloze: jsonl (default) or text.")] = None,
    input_format: Annotated[str, typer.Option(help="Tagging: text, pretokenized or conll. Cloze: text or jsonl.")] = "text",
    pretokenized: Annotated[bool, typer.Option(help="Same as --input-format pretokenized.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
    top_k: Annotated[int, typer.Option(min=1, help="Cloze: candidates per blank.")] = 10,
    choices: Annotated[Optional[str], typer.Option(help="Cloze: rank only these comma-separated words.")] = None,
    blank: Annotated[str, typer.Option(help="Cloze: the blank marker ([MASK] is always accepted).")] = "___",
    precision: Annotated[Optional[str], typer.Option(help=PRECISION_HELP)] = None,
) -> None:
    """Tag text, pre-tokenized lines or a CoNLL file; or fill in the blanks (cloze models)."""
    from birnn_tag.checkpoint import load_model
    from birnn_tag.devices import resolve_device
    from birnn_tag.files import open_output

    _setup_logging()
    input_format = "pretokenized" if pretokenized else input_format
    with user_errors():
        target = resolve_device(device)
        loaded = load_model(run, target)
        _check_precision(precision, loaded.config.task)
        # The model and vocabularies live until exit: exempting them from the cyclic garbage
        # collector's full passes made tagging CoNLL-2003's test set 10-20 % faster.
        gc.freeze()
        name = input if input != "-" else "<stdin>"
        if loaded.config.task == "cloze":
            options = {"top_k": top_k, "choices": choices, "blank": blank}
            results = _cloze_lines(loaded, name, input_format, output_format or "jsonl", batch_size, target, options)
        else:
            results = _tagging_lines(loaded, name, input_format, output_format or "conll", batch_size, target, precision)
        with _open_input(input) as handle, open_output(output, input_name=input) as sink:
            count = 0
            for text in results(handle):
                sink.write(text)
                count += 1
    if output != "-":
        stderr.print(f"wrote {count:,} results → {output}")


def _tagging_lines(loaded, name, input_format, output_format, batch_size, device, precision):
    """A function from an input stream to formatted tagging results."""
    from birnn_tag.prediction import INPUT_FORMATS, OUTPUT_FORMATS, format_prediction, predict_stream, read_inputs

    _check_choice("--format", output_format, OUTPUT_FORMATS)
    _check_choice("--input-format", input_format, INPUT_FORMATS)
    token_column = loaded.config.data.token_column if isinstance(loaded.config.data.token_column, int) else 0

    def run(handle):
        inputs = read_inputs(handle, name, input_format, token_column)
        # CoNLL columns show no confidences: not computing them saves the CRF's forward-backward.
        confidences = output_format == "jsonl"
        stream = predict_stream(
            loaded, inputs, batch_size=batch_size, device=device, confidences=confidences, precision=precision
        )
        for prediction in stream:
            yield format_prediction(prediction, output_format)

    return run


def _cloze_lines(loaded, name, input_format, output_format, batch_size, device, options):
    """A function from an input stream to formatted cloze answers; unusable lines are reported."""
    from birnn_tag.cloze_prediction import (
        INPUT_FORMATS, OUTPUT_FORMATS, check_blank, fill_blanks, format_answer, parse_choices, read_queries,
        tokenizer_for,
    )

    _check_choice("--format", output_format, OUTPUT_FORMATS)
    _check_choice("--input-format", input_format, INPUT_FORMATS)
    choices = parse_choices(options["choices"])
    check_blank(options["blank"])  # before the output is opened, not when the first line is read

    def run(handle):
        queries = read_queries(handle, name, input_format, options["blank"], tokenizer_for(loaded), choices)
        answers = fill_blanks(loaded, queries, top_k=options["top_k"], batch_size=batch_size, device=device)
        for answer in answers:
            if answer.query.error:
                stderr.print(f"[yellow]warning:[/] {name}:{answer.query.line}: {answer.query.error}", highlight=False)
            yield format_answer(answer, output_format, options["blank"])

    return run


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise BirnnTagError(f"{option}: unknown value {value!r}; expected one of {', '.join(choices)}")


def _check_precision(precision: str | None, task: str) -> None:
    if precision is None:
        return
    from birnn_tag.precision import PRECISIONS

    _check_choice("--precision", precision, PRECISIONS)
    if task != "tagging":
        raise BirnnTagError(f"--precision: applies to tagging models; this is a {task} model")


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
