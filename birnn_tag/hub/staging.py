"""The folder ``birnn-tag push`` uploads: what loading and tagging need, the reports, a card.

A run becomes (no pickles)::

    README.md                   the model card (birnn_tag/hub/card.py)
    model.safetensors           best.pt's weights
    model.json                  the rest of best.pt: format, config, vocabularies, state, calibration
    config.yaml, vocab.json     as in the run folder
    report-*.json, report-*.txt the run's scores; metrics.jsonl, curves.png: its training record
    transformer/                a run with transformer features: their config and tokenizer
    lm.safetensors, lm.json     a run with TagLM features: its lm.pt, converted likewise
    onnx/                       push --export: the ONNX export (birnn-tag export)

An export folder is uploaded as it is, its README kept below the card's own text. The folder is
built beside its destination and renamed into place, so a failed push leaves nothing behind.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from birnn_tag.config import TaggingModelConfig, config_from_dict, save_config
from birnn_tag.contextual.sources import LM_COPY, LM_SHARED
from birnn_tag.data.vocab import Vocabularies
from birnn_tag.errors import BirnnTagError
from birnn_tag.hub.card import ModelFacts, report_scores_of
from birnn_tag.runs.checkpoint import FORMAT_VERSION, read_checkpoint
from birnn_tag.runs.folder import TRANSFORMER_FOLDER, report_scores, run_folder_of
from birnn_tag.runs.safetensors_checkpoint import WEIGHTS_FILE, companion, save_safetensors_checkpoint
from birnn_tag.tasks import task_for

CARD_FILE = "README.md"
ONNX_FOLDER = "onnx"
# What a run folder keeps besides its model that a shared copy carries (never best.pt, last.pt
# with its optimizer state, the lock, or the predictions, which hold the data's sentences).
RECORD_PATTERNS = ("report-*.json", "report-*.txt", "metrics.jsonl", "curves.png")


@contextmanager
def staging_folder(stage: Path | None) -> Iterator[Path]:
    """A folder to build the upload in: a temporary one, removed afterwards, when ``stage`` is
    None; else one beside ``stage`` (which must not exist) that becomes ``stage`` when the
    block ends without an exception, and is removed when it raises."""
    if stage is None:
        with tempfile.TemporaryDirectory(prefix="birnn-tag-push-") as temporary:
            yield Path(temporary)
        return
    if stage.exists():
        raise BirnnTagError(f"{stage}: already exists; remove it or choose another --stage folder")
    stage.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{stage.name}.", dir=stage.parent))
    try:
        yield building
        building.rename(stage)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def stage_run(source: Path, folder: Path) -> ModelFacts:
    """Write a run's model (a run folder, a checkpoint file, or a shared model's folder) into
    ``folder`` as listed in the module docstring, the card aside; returns what the card says."""
    payload = read_checkpoint(source)
    run = run_folder_of(source)
    config = config_from_dict(payload["config"], f"{source} (saved config)", saved=True)
    # read_checkpoint upgrades a format-1 config: the copy is in the current format.
    save_safetensors_checkpoint(payload | {"format_version": FORMAT_VERSION}, folder / WEIGHTS_FILE)
    save_config(config, folder / "config.yaml")
    vocabs = Vocabularies.from_dict(payload["vocab"])
    vocabs.save(folder / "vocab.json")
    for pattern in RECORD_PATTERNS:
        for path in sorted(run.glob(pattern)):
            shutil.copyfile(path, folder / path.name)
    model = config.model
    if isinstance(model, TaggingModelConfig):
        if model.transformer.name:
            if not (run / TRANSFORMER_FOLDER).is_dir():
                raise BirnnTagError(f"{run / TRANSFORMER_FOLDER}: missing; a run with model.transformer keeps its tokenizer there")
            shutil.copytree(run / TRANSFORMER_FOLDER, folder / TRANSFORMER_FOLDER)
            if Path(model.transformer.name).is_dir() and not model.transformer.fine_tune:
                logging.getLogger(__name__).warning(
                    "%s: the frozen transformer's weights are read from %s, a local folder: where the shared model is loaded, "
                    "model.transformer.name must name the same weights", source, model.transformer.name,
                )
        if model.lm_embeddings:
            _stage_language_model(run, folder)
    labels = vocabs.labels.items if isinstance(model, TaggingModelConfig) else []
    return ModelFacts(config, task_for(config).pipeline_tag, labels, report_scores_of(report_scores(run), run))


def _stage_language_model(run: Path, folder: Path) -> None:
    """The TagLM language model a run keeps (``lm.pt``) as ``lm.safetensors`` and ``lm.json``."""
    shared = run / LM_SHARED
    if shared.is_file():  # a shared model's folder, pushed again
        shutil.copyfile(shared, folder / LM_SHARED)
        shutil.copyfile(companion(shared), companion(folder / LM_SHARED))
        return
    payload = read_checkpoint(run / LM_COPY)
    save_safetensors_checkpoint(payload | {"format_version": FORMAT_VERSION}, folder / LM_SHARED)


def stage_export(source: Path, folder: Path) -> str:
    """Copy an export folder's files into ``folder``; returns its README's text (the card keeps
    it), which is not copied."""
    readme = ""
    for path in sorted(source.iterdir()):
        if path.name == CARD_FILE:
            readme = path.read_text(encoding="utf-8")
        elif path.is_dir():
            shutil.copytree(path, folder / path.name)
        else:
            shutil.copyfile(path, folder / path.name)
    return readme
