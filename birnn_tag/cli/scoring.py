"""``birnn-tag evaluate``, ``compare``, ``calibrate`` and ``check-data``: scores of trained runs,
and checks of a config's data before training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from birnn_tag.cli.console import setup_logging, stderr, stdout, user_errors
from birnn_tag.cli.options import DEVICE_HELP, PRECISION_HELP, Device, Precision
from birnn_tag.contracts import Filler
from birnn_tag.errors import BirnnTagError
from birnn_tag.hub.names import is_hub_name


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file.")],
    split: Annotated[str, typer.Option(help="Split of the run's data to score.")] = "test",
    data: Annotated[Optional[Path], typer.Option(help="Score this file instead (read like the run's data).")] = None,
    device: Annotated[Device, typer.Option(help=DEVICE_HELP)] = Device.auto,
    fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cloze: score this random fraction of positions.")] = 1.0,
    count_unk: Annotated[bool, typer.Option(help="Cloze: score <unk> targets too (excluded by default).")] = False,
    precision: Annotated[Optional[Precision], typer.Option(help=PRECISION_HELP)] = None,
    confusion: Annotated[Optional[Path], typer.Option(help="Tagging: also draw the gold × predicted confusion matrix to this PNG.")] = None,
) -> None:
    """Score a trained model: entity P/R/F1 (tagging) or top-k accuracy and perplexity (cloze)."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        model = api.load(run, device.value, precision.value if precision else None)
        source = split if data is None else data
        if isinstance(model, Filler):
            report = model.evaluate(source, fraction=fraction, count_unk=count_unk)
        else:
            report = model.evaluate(source)
    # The scores are shown before they are saved: a read-only run folder must not hide them.
    stdout.print(report.table(str(data or f"{split} split")))
    with user_errors():
        folder = run if run.is_dir() else run.parent
        stem = folder / (f"report-data-{data.name}" if data else f"report-{split}")
        if not is_hub_name(run):  # the Hub's cache is no place for reports
            report.save(stem)
        if confusion is not None:
            matrix = report.confusion()
            if matrix is None:
                raise BirnnTagError("--confusion: applies to tagging models")
            from birnn_tag.runs.plots import plot_confusion

            what = "entity types" if report.scheme != "none" else "labels"
            plot_confusion(*matrix, confusion, f"{what}: gold × predicted ({data or split})")
            stderr.print(f"drew {confusion}")
    stderr.print("report not saved: the model is from the Hugging Face Hub" if is_hub_name(run) else f"saved {stem}.txt and {stem}.json")


def calibrate(run: Annotated[Path, typer.Argument(help="Run folder (its best.pt) or checkpoint of a tagging run.")]) -> None:
    """Fit the confidences' temperature on the run's validation split and save it in the checkpoint (train does this after its last epoch; this is for runs trained before)."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        fitted = api.calibrate(run)
    stderr.print(
        f"{run}: temperature {fitted.temperature:.3f}, validation NLL per token "
        f"{fitted.nll_before:.4f} → {fitted.nll_after:.4f} ({fitted.pieces:,} pieces)"
    )


def check_data(
    config: Annotated[Path, typer.Argument(help="YAML config file of a tagging run.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a key: section.key=value (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 on warnings too.")] = False,
) -> None:
    """Check a config's data before training: sizes, labels, schemes, invalid transitions, labels missing from train, repeated and shared sentences, long sentences, vectors' coverage. Exit 1 on errors (and on warnings with --strict)."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        result = api.check_data(config, list(set_ or []))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        stdout.print(result.table())
    if result.errors or (strict and result.warnings):
        raise typer.Exit(1)


def compare(
    runs: Annotated[list[str], typer.Argument(help="RUN_A RUN_B, or --a RUN... --b RUN... (seed groups).", show_default=False)],
    split: Annotated[str, typer.Option(help="Split of the runs' data to tag.")] = "test",
    data: Annotated[Optional[Path], typer.Option(help="Tag this file instead (read like the first run's data).")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Bootstrap samples.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the bootstrap draws.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    device: Annotated[Device, typer.Option(help=DEVICE_HELP)] = Device.auto,
) -> None:
    """Is B better than A? Scores, B − A with its 95 % interval and p-value (paired bootstrap over sentences), overall and per type."""
    from birnn_tag import api

    setup_logging()
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
