"""``birnn-tag export``: a tagging run as an ONNX folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from birnn_tag.cli.console import setup_logging, stderr, user_errors
from birnn_tag.errors import BirnnTagError


def export(
    run: Annotated[Path, typer.Argument(help="Run folder (uses best.pt) or checkpoint file of a tagging run.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The export folder to create.")],
    export_format: Annotated[str, typer.Option("--format", help="Only onnx.")] = "onnx",
    opset: Annotated[Optional[int], typer.Option(min=9, help="ONNX opset (default 17).")] = None,
    quantize: Annotated[Optional[str], typer.Option(help="int8: weights in int8 (onnxruntime's dynamic quantization); fp32 without.")] = None,
    check: Annotated[bool, typer.Option(help="Tag a split of the run's data with PyTorch and onnxruntime; fail unless the tags are identical (int8: unless F1 is within --check-tolerance).")] = False,
    check_split: Annotated[str, typer.Option(help="The split --check tags.")] = "test",
    check_sentences: Annotated[Optional[int], typer.Option(min=1, help="--check only the first N sentences.")] = None,
    check_tolerance: Annotated[Optional[float], typer.Option(help="int8 --check: how many points of F1 (token accuracy without spans) the export may lose against PyTorch fp32 (default 0.2).")] = None,
) -> None:
    """Export a tagger as an ONNX folder (Viterbi inside the graph) that `predict` and `birnn_tag.load` run with onnxruntime alone."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        if export_format != "onnx":
            raise BirnnTagError(f"--format {export_format!r}: the only export format is onnx")
        folder, result = api.export(
            run, output, opset=opset, quantize=quantize, check_split=check_split if check else None,
            check_sentences=check_sentences, check_tolerance=check_tolerance,
        )
    stderr.print(f"exported {run} → {folder}" + (f" (weights in {quantize})" if quantize else ""))
    if result is not None:
        stderr.print(result.summary(), highlight=False)
