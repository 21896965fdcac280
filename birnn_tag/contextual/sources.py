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
from pathlib import Path

from torch import nn

from birnn_tag.config import ModelConfig
from birnn_tag.errors import BirnnTagError

TRANSFORMER_FILES = "transformer"
FINGERPRINT = "fingerprint.json"
LM_COPY = "lm.pt"


def context_sources(config: ModelConfig, folder: Path | None = None) -> list[nn.Module]:
    """The configured sources, in a fixed order (transformer, then language model). ``folder``: the
    run folder of a trained model, whose kept files they are rebuilt from; None for a new run."""
    sources: list[nn.Module] = []
    if config.transformer.name:
        sources.append(_transformer(config, folder))
    if config.lm_embeddings:
        from birnn_tag.contextual.lm_states import LMStates

        kept = folder / LM_COPY if folder is not None else None
        sources.append(LMStates(kept if kept is not None and kept.is_file() else config.lm_embeddings))
    return sources


def _transformer(config: ModelConfig, folder: Path | None) -> nn.Module:
    from birnn_tag.contextual.transformer import TransformerFeatures

    settings = config.transformer
    files = folder / TRANSFORMER_FILES if folder is not None else None
    if files is not None and not files.is_dir():
        raise BirnnTagError(f"{files}: missing; a run with model.transformer keeps the transformer's config and tokenizer there")
    expected = json.loads((files / FINGERPRINT).read_text(encoding="utf-8")) if files is not None else None
    try:
        source = TransformerFeatures(settings.name, settings.layers, settings.pooling, settings.fine_tune, files=files)
    except BirnnTagError as error:
        if expected is None or settings.fine_tune:
            raise
        raise BirnnTagError(f"{error}; this run was trained with {_described(expected)}") from None
    if expected is not None and not settings.fine_tune:
        source.check_fingerprint(expected)
    return source


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
            files = folder / TRANSFORMER_FILES
            source.save_files(files)
            (files / FINGERPRINT).write_text(json.dumps(source.fingerprint(), indent=1) + "\n", encoding="utf-8")
