"""The contextual feature sources a tagger's config asks for, and the run-folder files that make
a trained run portable.

A run keeps what rebuilding its sources needs: ``transformer/`` holds the transformer's config
and tokenizer and the fingerprint of the weights it was trained with (frozen weights are read
from ``model.transformer.name`` again and must match it; fine-tuned ones are in the checkpoint),
and ``lm.pt`` a copy of the TagLM language model's checkpoint (a few MB).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from torch import nn

from birnn_tag.config import TaggingModelConfig
from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.folder import TRANSFORMER_FOLDER

FINGERPRINT = "fingerprint.json"
LM_COPY = "lm.pt"
# The copy as a shared model keeps it: lm.safetensors and lm.json (birnn_tag/runs/safetensors_checkpoint.py).
LM_SHARED = "lm.safetensors"


def context_sources(
    config: TaggingModelConfig, folder: Path | None, language_model: Callable[[Path], nn.Module]
) -> list[nn.Module]:
    """The configured sources, in a fixed order (transformer, then language model). ``folder``: the
    run folder of a trained model, whose kept files they are rebuilt from; None for a new run.
    ``language_model`` opens a cloze checkpoint as an :class:`~birnn_tag.contextual.lm_states.LMStates`
    (the task registry builds cloze models; shared code never names them)."""
    sources: list[nn.Module] = []
    if config.transformer.name:
        sources.append(_transformer(config, folder))
    if config.lm_embeddings:
        sources.append(language_model(_language_model_file(config.lm_embeddings, folder)))
    return sources


def _language_model_file(configured: str, folder: Path | None) -> Path:
    """The checkpoint of the LM: the run folder's copy for a trained run (never the configured
    path again, which may hold another LM by now), else the configured run or file."""
    if folder is not None:
        kept = folder / LM_COPY
        if not kept.is_file() and (folder / LM_SHARED).is_file():  # a shared model's folder (birnn-tag push)
            return folder / LM_SHARED
        if not kept.is_file():
            raise BirnnTagError(f"{kept}: missing; a run with model.lm_embeddings keeps a copy of its language model there")
        return kept
    path = Path(configured)
    checkpoint = path / "best.pt" if path.is_dir() else path
    if not checkpoint.is_file():
        raise BirnnTagError(f"model.lm_embeddings: {configured}: no cloze run there (no {checkpoint})")
    return checkpoint


def _transformer(config: TaggingModelConfig, folder: Path | None) -> nn.Module:
    from birnn_tag.contextual.transformer import TransformerFeatures

    settings = config.transformer
    files = folder / TRANSFORMER_FOLDER if folder is not None else None
    if files is not None and not files.is_dir():
        raise BirnnTagError(f"{files}: missing; a run with model.transformer keeps the transformer's config and tokenizer there")
    expected = _fingerprint(files / FINGERPRINT) if files is not None else None
    try:
        source = TransformerFeatures(settings.name, settings.layers, settings.pooling, settings.fine_tune, files=files)
    except BirnnTagError as error:
        if expected is None or settings.fine_tune:
            raise
        raise BirnnTagError(f"{error}; this run was trained with {_described(expected)}") from None
    if expected is not None and not settings.fine_tune:
        source.check_fingerprint(expected)
    return source


def _fingerprint(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BirnnTagError(f"{path}: cannot read the fingerprint of the run's transformer: {error}") from None


def _described(fingerprint: dict) -> str:
    what = [f"sha256 {fingerprint['sha256'][:12]}..."] if fingerprint.get("sha256") else []
    what += [f"revision {fingerprint['revision']}"] if fingerprint.get("revision") else []
    return f"{fingerprint['name']!r}" + (f" ({', '.join(what)})" if what else "")


def keep_source_files(sources: list[nn.Module], folder: Path) -> None:
    """Write into a run folder what :func:`context_sources` needs to rebuild ``sources`` there."""
    from birnn_tag.contextual.lm_states import LMStates

    for source in sources:
        if isinstance(source, LMStates):
            if source.checkpoint.resolve() != (folder / LM_COPY).resolve():
                shutil.copyfile(source.checkpoint, folder / LM_COPY)
        else:
            files = folder / TRANSFORMER_FOLDER
            source.save_files(files)
            (files / FINGERPRINT).write_text(json.dumps(source.fingerprint(), indent=1) + "\n", encoding="utf-8")
