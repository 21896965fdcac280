"""``birnn-tag predict``: checks the flags against the model's task, then streams the input through
``tag_stream`` or ``fill_stream`` and writes each result with the library's formatter; and
``birnn-tag select``, which ranks a tagger's input by its uncertainty (``birnn_tag.select``)."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Optional

import typer

from birnn_tag.cli.console import stderr, setup_logging, user_errors, warn
from birnn_tag.cli.options import (
    DEVICE_HELP, PRECISION_HELP, ClozeOptions, Device, InputFormat, OutputFormat, Precision, Strategy, TaggingOptions, check_format,
    input_format_for, named_format,
)
from birnn_tag.contracts import Filler, Tagger
from birnn_tag.data.sharding import Shard
from birnn_tag.errors import BirnnTagError

if TYPE_CHECKING:
    from birnn_tag import Answer, Prediction

# From an opened input stream (and the part of it to read) to the formatted results: one string
# each, or one record each for a table.
Results = Callable[[BinaryIO, Optional[Shard]], Iterator[Any]]


def predict(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    input: Annotated[str, typer.Argument(help="Input file, or - for stdin.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or - for stdout.")] = "-",
    output_format: Annotated[Optional[OutputFormat], typer.Option("--format", help="Tagging: conll (default), jsonl, parquet (jsonl's fields as columns; needs -o FILE), or label-studio / doccano pre-annotations. Cloze: jsonl (default) or text.")] = None,
    input_format: Annotated[InputFormat, typer.Option(help="Tagging: text, pretokenized, conll, conllu, documents (a document or paragraph per line, or per JSON object's text; split into sentences, one result each) or parquet (a sentence per row of --text-column). Cloze: text or jsonl. auto: by the file's extension (.conll, .conllu, .jsonl, .parquet), else text.")] = InputFormat.auto,
    text_column: Annotated[str, typer.Option(help="Parquet input: the column to tag, text (tokenized) or a list of tokens.")] = "text",
    shard: Annotated[Optional[str], typer.Option(metavar="I/N", help="Tag part I of N (counted from 0) of the input, by position: the N outputs concatenated are the whole output (for a model with document context, a cut inside a document reads the sentences at the cut without their neighbours across it). Reads the input twice (a file, not stdin).")] = None,
    pretokenized: Annotated[bool, typer.Option(help="Same as --input-format pretokenized; with documents, their tokens are split at whitespace.")] = False,
    encoding: Annotated[str, typer.Option(help="The input's encoding: utf-8, latin-1, cp1252, utf-16 (with its byte-order mark)...")] = "utf-8",
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    device: Annotated[Device, typer.Option(help=DEVICE_HELP)] = Device.auto,
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

    setup_logging()
    reads = _reading(input_format, pretokenized, input)
    tagging, cloze = TaggingOptions(k_best, min_confidence, text_column), ClozeOptions(top_k, choices, blank)
    with user_errors():
        part = None if shard is None else Shard.parse(shard)
        model = api.load(run, device.value, precision.value if precision else None)
        # The model and vocabularies live until exit: exempting them from the cyclic garbage
        # collector's full passes makes tagging faster (docs/benchmarks.md).
        gc.freeze()
        name = input if input != "-" else "<stdin>"
        if isinstance(model, Filler):
            results = _fill(model, name, reads, output_format, batch_size, encoding, cloze, tagging)
        else:
            results = _tag(model, name, reads, output_format, batch_size, encoding, tagging, pretokenized)
        table = output_format is OutputFormat.parquet
        if table and output == "-":
            raise BirnnTagError("--format parquet: writes a file; give one with -o FILE")
        with _open_input(input) as handle:
            if part is not None and (input == "-" or not handle.seekable()):
                raise BirnnTagError("--shard: reads the input twice (once to count it); give a file, not stdin")
            # Made before the output is opened: the model's own refusals (a blank marker, --k-best
            # without a CRF) leave no output file behind.
            written = results(handle, part)
            with open_output(output, input_name=input, binary=table) as sink:
                count = _write_table(written, model.table_schema(), sink) if table else _write_text(written, sink)
    if output != "-":
        stderr.print(f"wrote {count:,} results → {output}")


def _reading(input_format: InputFormat, pretokenized: bool, name: str) -> InputFormat:
    """The format ``--pretokenized`` asks for: line input becomes ``pretokenized``; documents and
    tables keep their format and split their text on whitespace."""
    keeps = input_format in (InputFormat.documents, InputFormat.parquet) or (
        input_format is InputFormat.auto and named_format(name) == "parquet"
    )
    return InputFormat.pretokenized if pretokenized and not keeps else input_format


def _write_text(results: Iterable[str], sink: Any) -> int:
    count = 0
    for text in results:
        sink.write(text)
        count += 1
    return count


def _write_table(records: Iterable[dict[str, Any]], schema: Any, sink: BinaryIO) -> int:
    """Records as Parquet row groups of ``schema``; the footer is written also when the records
    stop with an error, so the part written is a readable table."""
    from birnn_tag.data.tables import RecordWriter

    count = 0
    with RecordWriter(sink, schema) as writer:
        for record in records:
            writer.write(record)
            count += 1
    return count


def _inputs(handle: BinaryIO, read: Callable[[BinaryIO], Iterable[Any]], part: Shard | None) -> Iterable[Any]:
    """What ``read`` reads from ``handle``, or only ``part`` of it (the input is read twice)."""
    if part is None:
        return read(handle)

    def again() -> Iterable[Any]:
        handle.seek(0)
        return read(handle)

    return part.take(again)


def _tag(
    model: Tagger, name: str, input_format: InputFormat, output_format: OutputFormat | None, batch_size: int, encoding: str,
    options: TaggingOptions, pretokenized: bool,
) -> Results:
    """The tagger's results (CoNLL columns or JSON lines), its flags checked now."""
    from birnn_tag import format_prediction

    reads = input_format_for(input_format, name, model.input_formats, model.task)
    writes = check_format("--format", output_format or OutputFormat.conll, model.output_formats, model.task)
    if options.text_column != "text" and reads != "parquet":
        raise BirnnTagError("--text-column: names the column of Parquet input; add --input-format parquet")
    if options.k_best and writes != "jsonl":
        raise BirnnTagError("--k-best: the sequences are written in JSONL only; add --format jsonl")
    if options.k_best and reads == "documents":
        raise BirnnTagError("--k-best: lists the sequences of a sentence; not with --input-format documents")
    if writes in ("label-studio", "doccano") and not model.has_spans:
        raise BirnnTagError(f"--format {writes}: writes entity spans; this run's labels have none (data.scheme: none)")
    threshold = options.min_confidence
    if threshold is not None and (writes == "conll" or not model.has_spans):
        raise BirnnTagError("--min-confidence: filters the spans of JSONL output; add --format jsonl (span runs only)")

    def read(handle: BinaryIO) -> Iterator[Any]:
        return model.read_inputs(
            handle, name, reads, pretokenized=pretokenized, encoding=encoding, encoding_setting="--encoding",
            text_column=options.text_column,
        )

    def results(handle: BinaryIO, part: Shard | None) -> Iterator[Any]:
        # CoNLL columns show no confidences: not computing them saves the CRF's forward-backward.
        predictions = model.tag_stream(
            _inputs(handle, read, part), batch_size=batch_size, confidences=writes != "conll", k_best=options.k_best
        )
        return formatted(predictions)

    def formatted(predictions: Iterable[Prediction]) -> Iterator[Any]:
        dropped = total = 0
        for prediction in predictions:
            if threshold is not None:
                total += len(prediction.spans)
                dropped += sum(span.confidence < threshold for span in prediction.spans)
            yield prediction.to_record(threshold) if writes == "parquet" else format_prediction(prediction, writes, threshold)
        if threshold is not None:
            warn(f"--min-confidence {threshold}: dropped {dropped:,} of {total:,} spans")

    return results


def _fill(
    model: Filler, name: str, input_format: InputFormat, output_format: OutputFormat | None, batch_size: int, encoding: str,
    options: ClozeOptions, tagging: TaggingOptions,
) -> Results:
    """The cloze model's answers (JSON lines or filled-in text), its flags checked now; each
    unusable line is a warning ``name:line: why``."""
    from birnn_tag import format_answer

    reads = input_format_for(input_format, name, model.input_formats, model.task)
    writes = check_format("--format", output_format or OutputFormat.jsonl, model.output_formats, model.task)
    words = parse_choices(options.choices)
    choices = None if words is None else model.unique_choices(words, "--choices")
    if tagging != TaggingOptions():
        raise BirnnTagError(f"--k-best, --min-confidence and --text-column: apply to tagging models; this is a {model.task} model")

    def read(handle: BinaryIO) -> Iterator[Any]:
        return model.read_queries(
            handle, name, reads, blank=options.blank, choices=choices, encoding=encoding, encoding_setting="--encoding"
        )

    def results(handle: BinaryIO, part: Shard | None) -> Iterator[str]:
        answers = model.fill_stream(_inputs(handle, read, part), top_k=options.top_k, blank=options.blank, batch_size=batch_size)
        return formatted(answers)

    def formatted(answers: Iterable[Answer]) -> Iterator[str]:
        for answer in answers:
            if answer.error:
                warn(f"{name}:{answer.line}: {answer.error}")
            yield format_answer(answer, writes, options.blank)

    return results


def parse_choices(text: str | None) -> list[str] | None:
    """``--choices "cat, dog"`` → ``["cat", "dog"]``; ``None`` (no option) → ``None``: rank the
    whole vocabulary. A value with no word in it would rank nothing, so it is refused."""
    if text is None:
        return None
    choices = [choice.strip() for choice in text.split(",") if choice.strip()]
    if not choices:
        raise BirnnTagError(f"--choices: no words in {text!r}; expected comma-separated words, e.g. 'cat,dog'")
    return choices


@contextmanager
def _open_input(name: str) -> Iterator[BinaryIO]:
    """The input stream: stdin for ``-``, else the file, refused in one line if it cannot be read."""
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


def select(
    run: Annotated[Path, typer.Argument(help="A tagging run folder, checkpoint or export folder.")],
    input: Annotated[str, typer.Argument(help="Unlabelled input file, or - for stdin.")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many to choose.")] = 100,
    strategy: Annotated[Strategy, typer.Option(help="How to rank: the model's uncertainty, or random (the baseline).")] = Strategy.least_confidence,
    normalize: Annotated[bool, typer.Option(help="Uncertainty per token, so that long sentences do not win by length (for budgets counted in tokens).")] = False,
    diversity: Annotated[float, typer.Option(min=0.0, max=1.0, help="Skip inputs whose words overlap a chosen one's this much (Jaccard; 0: off).")] = 0.0,
    seed: Annotated[int, typer.Option(help="The random strategy's seed.")] = 0,
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or - for stdout.")] = "-",
    output_format: Annotated[OutputFormat, typer.Option("--format", help="jsonl (with index and score), label-studio or doccano (pre-annotated tasks), conll.")] = OutputFormat.jsonl,
    input_format: Annotated[InputFormat, typer.Option(help="text, pretokenized, conll, conllu, documents or parquet (--text-column); auto: by the file's extension.")] = InputFormat.auto,
    pretokenized: Annotated[bool, typer.Option(help="Same as --input-format pretokenized.")] = False,
    text_column: Annotated[str, typer.Option(help="Parquet input: the column to rank, text or a list of tokens.")] = "text",
    encoding: Annotated[str, typer.Option(help="The input's encoding.")] = "utf-8",
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    device: Annotated[Device, typer.Option(help=DEVICE_HELP)] = Device.auto,
) -> None:
    """Choose the sentences (or documents) most worth labelling next, most useful first."""
    from birnn_tag import api, format_prediction
    from birnn_tag.files import open_output

    setup_logging()
    reads = _reading(input_format, pretokenized, input)
    with user_errors():
        model = api.load(run, device.value)
        if not isinstance(model, Tagger):
            raise BirnnTagError(f"select: ranks what a tagger reads; this is a {model.task} model")
        name = input if input != "-" else "<stdin>"
        reads = input_format_for(reads, name, model.input_formats, model.task)
        writes = check_format("--format", output_format, model.output_formats, model.task)
        if writes == "parquet":
            raise BirnnTagError("select --format: jsonl, label-studio, doccano or conll; parquet is predict's")
        with _open_input(input) as handle:
            inputs = model.read_inputs(
                handle, name, reads, pretokenized=pretokenized, encoding=encoding, encoding_setting="--encoding", text_column=text_column
            )
            chosen = api.select(model, inputs, n, strategy.value, normalize=normalize, diversity=diversity, seed=seed, batch_size=batch_size)
        with open_output(output, input_name=input) as sink:
            for item in chosen:
                sink.write(json.dumps(item.to_record(), ensure_ascii=False) + "\n" if writes == "jsonl" else format_prediction(item.prediction, writes))
    if output != "-":
        stderr.print(f"wrote {len(chosen):,} of the inputs → {output}")
