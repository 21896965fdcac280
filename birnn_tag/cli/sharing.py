"""``birnn-tag push``: a run or an export folder as a model repository on the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from birnn_tag.cli.console import setup_logging, stderr, user_errors


def push(
    source: Annotated[str, typer.Argument(help="Run folder, checkpoint file, export folder or hf:// name.", show_default=False)],
    repo_id: Annotated[str, typer.Argument(help="The model repository: ORG/NAME.", show_default=False)],
    revision: Annotated[Optional[str], typer.Option(help="The branch to commit to (created from main when missing).")] = None,
    private: Annotated[bool, typer.Option(help="Create the repository private (an existing one keeps its visibility).")] = False,
    export: Annotated[bool, typer.Option("--export", help="Also upload the run's ONNX export, as onnx/.")] = False,
    stage: Annotated[Optional[Path], typer.Option(help="Write the folder that would be uploaded here, and upload nothing.")] = None,
) -> None:
    """Share a model on the Hugging Face Hub: weights as safetensors, config, vocabularies, reports and a model card. Log in first (hf auth login, or HF_TOKEN)."""
    from birnn_tag import api

    setup_logging()
    with user_errors():
        pushed = api.push(source, repo_id, revision=revision, private=private, onnx=export, stage=stage)
    if pushed.folder is not None:
        files = sorted(path for path in pushed.folder.rglob("*") if path.is_file())
        size = sum(path.stat().st_size for path in files)
        stderr.print(f"staged {source} → {pushed.folder} ({len(files)} files, {size / 1e6:.1f} MB); nothing uploaded", soft_wrap=True)
    else:
        stderr.print(f"pushed {source} → {pushed.url} (revision {pushed.revision}, commit {pushed.commit})", soft_wrap=True)
