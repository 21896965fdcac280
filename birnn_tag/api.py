"""The public Python API: load a trained run and tag or fill with it, or train one.

    import birnn_tag
    tagger = birnn_tag.load("runs/ner")
    tagger.tag(["Peter lives in Paris ."])[0].spans   # [Span(type='PER', start=0, end=5, ...), ...]

The CLI is a thin shell over these functions, so the two give the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from birnn_tag.config import Config, load_config
from birnn_tag.errors import BirnnTagError
from birnn_tag.hub.names import is_hub_name, resolve
from birnn_tag.runs.folder import Resume
from birnn_tag.training.events import Listener
from birnn_tag.tagging.onnx.runtime import OnnxTaggingModel, is_export
from birnn_tag.tagging.public.base import TaggingBase

if TYPE_CHECKING:  # PyTorch, and each task's model, are imported when a run of it is loaded
    import torch

    from birnn_tag.cloze.public import ClozeModel
    from birnn_tag.hub.upload import Pushed
    from birnn_tag.tagging.tools.comparison import Comparison
    from birnn_tag.tagging.tools.data_check import DataCheck
    from birnn_tag.tagging.onnx.export import CheckResult
    from birnn_tag.tagging.onnx.quantization import QuantizedCheck
    from birnn_tag.tagging.scoring.calibration import TemperatureFit
    from birnn_tag.tagging.public.pytorch import TaggingModel
    from birnn_tag.tagging.tools.selection import Selected
    from birnn_tag.tuning.study import TrialRow, TuneResult


def load(
    path: str | Path, device: str | torch.device = "auto", precision: str | None = None
) -> TaggingModel | ClozeModel | OnnxTaggingModel:
    """The trained model of a run folder (its ``best.pt``), a checkpoint file, an export folder
    (``birnn-tag export``), a shared model's folder (``birnn-tag push``) or an ``hf://ORG/NAME``
    name of one on the Hugging Face Hub (:mod:`birnn_tag.hub.names`; the ``[hub]`` extra): a
    :class:`~birnn_tag.tagging.public.pytorch.TaggingModel` or a
    :class:`~birnn_tag.cloze.public.ClozeModel`, by the run's task, or an
    :class:`~birnn_tag.tagging.onnx.runtime.OnnxTaggingModel` (onnxruntime on the CPU; PyTorch is
    not imported).

    ``device``: ``cpu``, ``cuda``, ``auto`` (CUDA when available) or a ``torch.device``; the model
    keeps it. ``precision`` (tagging only): ``fp32``, ``bf16`` or ``auto``; None is the run's
    ``training.eval_precision``. Raises :class:`~birnn_tag.errors.BirnnTagError` for a missing,
    damaged or foreign checkpoint, and for a hub name that cannot be fetched.
    """
    path = resolve(path)
    if is_export(path):
        if str(device) not in ("auto", "cpu") or precision not in (None, "fp32", "auto"):
            raise BirnnTagError(f"{path}: an export folder runs on the CPU (onnxruntime) in the precision it was exported in; drop --device/--precision")
        return OnnxTaggingModel(path)
    import torch

    from birnn_tag.runtime.devices import resolve_device
    from birnn_tag.runs.loading import load_model
    from birnn_tag.tasks import task_for

    target = device if isinstance(device, torch.device) else resolve_device(str(device))
    loaded = load_model(path, target)
    return task_for(loaded.config).open(loaded, target, precision)


def export(
    run: str | Path,
    folder: str | Path,
    *,
    opset: int | None = None,
    quantize: str | None = None,
    check_split: str | None = None,
    check_sentences: int | None = None,
    check_tolerance: float | None = None,
) -> tuple[Path, CheckResult | QuantizedCheck | None]:
    """Export a tagging run (folder or checkpoint) to an ONNX folder, its weights in int8 with
    ``quantize="int8"``; with ``check_split``, tag that split of the run's data (its first
    ``check_sentences`` sentences, or all) with PyTorch and with the export, and raise unless the
    tags are identical and the numbers agree (fp32) or, int8, unless the export's F1 is at most
    ``check_tolerance`` points (default 0.2) below PyTorch fp32's."""
    from birnn_tag.runs.loading import load_model
    from birnn_tag.tagging.onnx.export import DEFAULT_OPSET, check_export, export_model
    from birnn_tag.tagging.onnx.quantization import DEFAULT_TOLERANCE, check_quantization, check_quantized, labelled_split

    check_quantization(quantize)
    if check_tolerance is not None and quantize is None:
        raise BirnnTagError("--check-tolerance is for --quantize int8; an fp32 export must tag exactly as the run")
    loaded = load_model(run, "cpu")
    tokens = gold = None
    if check_split is not None:  # read before anything is written: missing data leaves no half-made export
        from birnn_tag.data.reading.sources import load_corpus

        if quantize is None:
            tokens = load_corpus(loaded.config.data, only=check_split).splits[check_split]["tokens"]
        else:
            tokens, gold = (part[:check_sentences] for part in labelled_split(loaded, check_split))
    folder = export_model(loaded, folder, opset=opset or DEFAULT_OPSET, quantize=quantize)
    if loaded.config.training.eval_precision != "fp32":
        logging.getLogger(__name__).warning(
            "%s tags at training.eval_precision=%s; the export (and --check's PyTorch reference) runs fp32",
            run, loaded.config.training.eval_precision,
        )
    if tokens is None:
        return folder, None
    if gold is None:
        result = check_export(loaded, folder, tokens[:check_sentences] if check_sentences else tokens)
    else:
        result = check_quantized(loaded, folder, tokens, gold, DEFAULT_TOLERANCE if check_tolerance is None else check_tolerance)
    if not result.passed:
        raise BirnnTagError(f"{folder}: {result.summary()} (the export is kept for inspection)")
    return folder, result


def compare(
    a: Sequence[str | Path],
    b: Sequence[str | Path],
    *,
    split: str = "test",
    data: str | Path | None = None,
    samples: int = 1000,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> Comparison:
    """Compare tagging runs ``a`` with runs ``b`` (one or more each, e.g. seeds of two recipes) on
    a split of their data or a ``data`` file: each side's score, B − A with its 95 % paired
    bootstrap interval and p-value, overall and per type (:mod:`birnn_tag.tagging.tools.comparison`)."""
    import torch

    from birnn_tag.runtime.devices import resolve_device
    from birnn_tag.tagging.tools.comparison import compare_runs

    target = device if isinstance(device, torch.device) else resolve_device(str(device))
    return compare_runs(list(a), list(b), split=split, data_file=None if data is None else str(data), samples=samples, seed=seed, device=target)


def calibrate(run: str | Path) -> TemperatureFit:
    """Fit a tagging run's temperature on the validation split of its data (as ``train`` does
    after its last epoch) and write it into its checkpoint; returns the temperature and the NLL
    per token before and after."""
    from birnn_tag.runs.checkpoint import checkpoint_in
    from birnn_tag.runs.folder import RunLock
    from birnn_tag.runs.loading import load_model
    from birnn_tag.tagging.scoring.calibration import calibrate_checkpoint
    from birnn_tag.tasks import task_for

    path = checkpoint_in(Path(run)) if Path(run).is_dir() else Path(run)
    if is_hub_name(run) or path.suffix == ".safetensors":
        raise BirnnTagError(f"{run}: a shared model is not calibrated in place; calibrate the run it was pushed from")
    loaded = load_model(run, "cpu")
    if not task_for(loaded.config).can_calibrate:
        raise BirnnTagError(f"{run}: only tagging runs have confidences to calibrate")
    lock = RunLock(path.parent)  # a training writing this run folder must not be overwritten
    try:
        return calibrate_checkpoint(loaded, path)
    finally:
        lock.release()


def push(
    source: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    onnx: bool = False,
    stage: str | Path | None = None,
    token: str | None = None,
) -> Pushed:
    """Share a run (a run folder, checkpoint, shared model's folder or ``hf://`` name) or an
    export folder on the Hugging Face Hub as the model repository ``repo_id`` (``ORG/NAME``):
    the weights as ``model.safetensors`` (no pickles), config, vocabularies, reports and a model
    card (:mod:`birnn_tag.hub.staging`); an export folder as it is, with a card. ``onnx``: add
    the run's ONNX export (``birnn-tag export``) as ``onnx/``.

    ``stage``: write the folder there and upload nothing. Otherwise ``revision`` is the branch to
    commit to (created from main when missing), ``private`` a new repository's visibility, and
    ``token`` None uses the login (``hf auth login``) or ``HF_TOKEN``. Needs the ``[hub]`` extra.
    """
    from birnn_tag.hub.names import check_repo_id
    from birnn_tag.hub.staging import staging_folder
    from birnn_tag.hub.upload import Pushed, upload

    check_repo_id(repo_id)
    source = Path(resolve(source))
    with staging_folder(None if stage is None else Path(stage)) as folder:
        _stage_for_hub(source, folder, repo_id, onnx)
        if stage is not None:
            return Pushed(repo_id, Path(stage))
        return upload(folder, repo_id, revision=revision, private=private, token=token)


def _stage_for_hub(source: Path, folder: Path, repo_id: str, onnx: bool) -> None:
    """Write into ``folder`` what :func:`push` uploads, the model card last."""
    from birnn_tag.hub.card import ModelFacts, model_card, report_scores_of
    from birnn_tag.hub.staging import CARD_FILE, ONNX_FOLDER, stage_export, stage_run
    from birnn_tag.tasks import task_for

    if is_export(source):
        if onnx:
            raise BirnnTagError(f"{source}: --export: this is an export folder already; push it without --export")
        exported = OnnxTaggingModel(source)  # a readable export, or a one-line error before anything is written
        scores = report_scores_of(exported.metadata.get("metrics", {}))
        facts = ModelFacts(exported.config, task_for(exported.config).pipeline_tag, exported.labels, scores)
        card = model_card(facts, repo_id, exported=True, appendix=stage_export(source, folder))
    else:
        facts = stage_run(source, folder)
        if onnx:
            export(source, folder / ONNX_FOLDER)
        card = model_card(facts, repo_id, onnx_folder=ONNX_FOLDER if onnx else None)
    (folder / CARD_FILE).write_text(card, encoding="utf-8")


def check_data(config: str | Path | Config, overrides: Sequence[str] = ()) -> DataCheck:
    """Read a tagging config's splits as :func:`train` would and report sizes, labels, schemes and
    problems (:mod:`birnn_tag.tagging.tools.data_check`); nothing is trained or written."""
    from birnn_tag.tagging.tools.data_check import check_data as check

    if not isinstance(config, Config):
        config = load_config(config, list(overrides))
    return check(config)


def select(
    model: str | Path | TaggingBase,
    inputs: Iterable[Any],
    n: int,
    strategy: str = "least-confidence",
    *,
    normalize: bool = False,
    diversity: float = 0.0,
    seed: int = 0,
    batch_size: int = 256,
) -> list[Selected]:
    """The ``n`` of ``inputs`` (texts, token lists, or a tagger's ``read_inputs``) most worth
    labelling next by a tagger's uncertainty (a run or export path, or a loaded tagger), most
    useful first; strategies and options in :mod:`birnn_tag.tagging.tools.selection`."""
    from birnn_tag.tagging.tools.selection import k_best_for
    from birnn_tag.tagging.tools.selection import select as choose

    if isinstance(model, (str, Path)):
        model = load(model)
    if not isinstance(model, TaggingBase):
        raise BirnnTagError(f"select: ranks what a tagger reads; this is a {model.task} model")
    k = k_best_for(strategy) if model.scores_sequences else 0
    predictions = model.tag_stream(inputs, batch_size=batch_size, confidences=True, k_best=k)
    return choose(predictions, n, strategy, normalize=normalize, diversity=diversity, seed=seed)


def train(
    config: str | Path | Config,
    overrides: Sequence[str] = (),
    *,
    resume: Resume = False,
    on_event: Listener | None = None,
) -> Path:
    """Train as a YAML config file (or a :class:`~birnn_tag.config.Config`) says, with
    ``section.key=value`` ``overrides``; returns the run folder (``output.dir``).

    ``resume``: True continues the run from its ``last.pt``; ``"auto"`` continues it when there
    is one and starts the run otherwise (torchrun's elastic restarts). Progress goes to ``on_event`` as the
    records of :mod:`birnn_tag.training.events`; nothing is printed.
    """
    from birnn_tag.training.loop import train as run_training  # datasets and seqeval: only when training

    if not isinstance(config, Config):
        config = load_config(config, list(overrides))
    elif overrides:
        raise ValueError("overrides apply to a config file; change a Config with dataclasses.replace")
    return run_training(config, resume=resume, on_event=on_event)


@dataclass(frozen=True)
class Tuned:
    """What :func:`tune` found: the study (``study.best``, ``study.best_config``, every trial)
    and, with ``seeds``, the best config's and the base config's seed runs and, for taggers,
    their comparison (B = the best config, A = the base)."""

    study: TuneResult
    best_runs: list[Path] = field(default_factory=list)
    base_runs: list[Path] = field(default_factory=list)
    comparison: Comparison | None = None


def tune(
    config: str | Path,
    space: str | Path,
    trials: int,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    storage: str | None = None,
    study: str | None = None,
    timeout: float | None = None,
    prune: bool = True,
    prune_after: int = 5,
    seed: int | None = None,
    seeds: int = 0,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> Tuned:
    """Search the config values of the ``space`` YAML file with Optuna until the study has
    ``trials`` finished trials, each a run folder in ``out`` (default: ``<output.dir>-tune``);
    ``storage`` (a database URL or a journal file; default ``out/study.db``) lets several
    processes share the study. ``seeds`` > 0 then trains the best config and the base config
    with that many seeds and compares them (:mod:`birnn_tag.tuning.study`; the ``[tune]`` extra)."""
    from birnn_tag.tuning.study import train_seeds
    from birnn_tag.tuning.study import tune as search

    result = search(
        Path(config), Path(space), trials, out=None if out is None else Path(out), storage=storage, study=study,
        timeout=timeout, overrides=overrides, prune=prune, prune_after=prune_after, seed=seed, on_trial=on_trial,
    )
    if seeds < 1 or result.best_config is None:
        return Tuned(result)
    folder = result.table.parent / "seeds"
    best_runs = train_seeds(result.best_config, seeds, folder / "best")
    base_runs = train_seeds(Path(config), seeds, folder / "base", overrides)
    comparison = compare(base_runs, best_runs) if isinstance(load(best_runs[0], device="cpu"), TaggingBase) else None
    return Tuned(result, best_runs, base_runs, comparison)
