"""The model card of a shared model: the ``README.md`` the Hub shows.

Its front matter, written by huggingface_hub's ``ModelCardData``, has what the Hub indexes:
``library_name: birnn-tag``, the task's ``pipeline_tag``, tags, the Hub dataset a run was trained
on, and a ``model-index`` with the scores of the run's reports (``report-test.json``,
``report-validation.json``) or of an export's ``export.json``. The text says what the model is,
its scores, how to use it and what the files are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from birnn_tag.config import Config, DataConfig, TaggingModelConfig

# File stems that name a split rather than a data set: the folder above names it then.
_SPLIT_STEMS = {"train", "training", "dev", "valid", "validation", "test", "testing", "data", "text"}
# What each pipeline's usage example calls, and what the command line does with it.
_EXAMPLES = {
    "token-classification": ('print(model.tag(["Peter Blackburn lives in Paris ."])[0].spans)', "tags text, a sentence a line"),
    "fill-mask": ('print(model.fill(["the cat ___ on the mat ."])[0])', "fills in the blanks (___) of each line"),
}


@dataclass(frozen=True)
class Score:
    """One number of a report: the ``split`` it was measured on, the Hub's ``metric`` type
    (``f1``, ``accuracy``, ``precision``, ``recall``), the report's ``name`` for it, its ``value`` (0..1)."""

    split: str
    metric: str
    name: str
    value: float


@dataclass(frozen=True)
class ModelFacts:
    """What the card says of a model: its saved ``config``, the task's Hub ``pipeline_tag``,
    the ``labels`` a tagger predicts (empty for other tasks) and its ``scores``."""

    config: Config
    pipeline_tag: str
    labels: list[str]
    scores: list[Score]


def report_scores_of(headlines: dict[str, dict[str, float | str]], folder: Path | None = None) -> list[Score]:
    """Scores from headline numbers by split (as :func:`~birnn_tag.runs.folder.report_scores`
    gives them and ``export.json`` keeps them), with the micro precision and recall of an F1
    headline when ``folder`` holds its report."""
    scores = []
    for split, row in headlines.items():
        name = str(row["headline"])
        metric = "f1" if "f1" in name.lower() else "accuracy" if "accuracy" in name.lower() else name.lower().replace(" ", "_")
        scores.append(Score(split, metric, name, float(row["score"])))
        micro = _micro_average(folder / f"report-{split}.json") if folder is not None and metric == "f1" else {}
        scores += [Score(split, key, f"micro {key}", float(micro[key])) for key in ("precision", "recall") if key in micro]
    return scores


def _micro_average(path: Path) -> dict:
    """A tagging report's micro-averaged precision and recall, or {} when it has none."""
    try:
        micro = json.loads(path.read_text(encoding="utf-8"))["scores"]["micro avg"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return micro if isinstance(micro, dict) else {}


def dataset_name(data: DataConfig, split: str) -> str:
    """The name of the data set a split came from: the Hub dataset, the saved dataset's folder,
    or the split's file (its folder's name when the file is called ``train``, ``test``...)."""
    if data.hub:
        return data.hub
    train = data.train[0] if isinstance(data.train, list) and data.train else data.train
    source = data.disk or {"validation": data.validation, "test": data.test}.get(split) or train
    if not source:
        return "unknown"
    path = Path(source)
    return path.parent.name if path.stem.lower() in _SPLIT_STEMS and path.parent.name else path.stem or path.name


def model_card(facts: ModelFacts, repo_id: str, *, onnx_folder: str | None = None, exported: bool = False, appendix: str = "") -> str:
    """The card's text. ``onnx_folder``: the folder of the repository that holds an ONNX export
    of the model; ``exported``: the repository's root is itself an export; ``appendix``: text
    kept after the card's own (an export's README)."""
    from huggingface_hub import ModelCardData

    data = facts.config.data
    metadata = ModelCardData(
        library_name="birnn-tag",
        pipeline_tag=facts.pipeline_tag,
        tags=_tags(facts.config, onnx=exported or onnx_folder is not None),
        datasets=[data.hub] if data.hub else None,
        model_name=repo_id.split("/")[-1],
        eval_results=_eval_results(facts) or None,
    )
    body = [
        f"# {repo_id.split('/')[-1]}", "", _description(facts), "", *_score_table(facts.scores),
        *_usage(facts.pipeline_tag, repo_id, onnx_folder=onnx_folder, exported=exported),
        *_files(facts.config, onnx_folder=onnx_folder, exported=exported),
    ]
    text = f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"
    return text + (f"\n## The export\n\n{_demoted(appendix.strip())}\n" if appendix.strip() else "")


def _demoted(markdown: str) -> str:
    """``markdown`` with its headings two levels down (``#`` → ``###``), to sit under a ``##``
    heading; lines in code fences are left alone."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        lines.append("##" + line if not fenced and line.startswith("#") else line)
    return "\n".join(lines)


def _tags(config: Config, *, onnx: bool) -> list[str]:
    tags = ["birnn-tag", config.model.cell, f"bi{config.model.cell}"]
    if isinstance(config.model, TaggingModelConfig) and config.model.head == "crf":
        tags.append("crf")
    return tags + (["onnx"] if onnx else [])


def _eval_results(facts: ModelFacts) -> list:
    from huggingface_hub import EvalResult

    data = facts.config.data
    return [
        EvalResult(
            task_type=facts.pipeline_tag, task_name=facts.pipeline_tag.replace("-", " ").title(),
            dataset_type=dataset_name(data, score.split), dataset_name=dataset_name(data, score.split),
            dataset_config=data.hub_config if data.hub else None, dataset_split=score.split,
            metric_type=score.metric, metric_value=score.value, metric_name=score.name,
        )
        for score in facts.scores
    ]


def _description(facts: ModelFacts) -> str:
    model, data = facts.config.model, facts.config.data
    text = (
        f"A [birnn-tag](https://pypi.org/project/birnn-tag/) model ({facts.pipeline_tag}): {model.num_layers} "
        f"bidirectional {model.cell.upper()} layer(s) of {model.hidden_size} units per direction"
    )
    if isinstance(model, TaggingModelConfig):
        text += f" with a {model.head} head"
        if model.transformer.name:
            text += f", over features of the transformer `{model.transformer.name}` (downloaded when the model is loaded)"
    text += f", trained on {dataset_name(data, 'train')}."
    if facts.labels:
        shown = ", ".join(facts.labels[:20]) + (f" and {len(facts.labels) - 20} more" if len(facts.labels) > 20 else "")
        text += f" It predicts {len(facts.labels)} tags ({data.scheme}): {shown}."
    return text


def _score_table(scores: list[Score]) -> list[str]:
    if not scores:
        return ["No scores: the run folder had no reports.", ""]
    rows = [f"| {score.split} | {score.name} | {100 * score.value:.2f} |" for score in scores]
    return ["## Scores", "", "| split | metric | % |", "|---|---|---|", *rows, ""]


def _usage(pipeline_tag: str, repo_id: str, *, onnx_folder: str | None, exported: bool) -> list[str]:
    call, what = _EXAMPLES.get(pipeline_tag, _EXAMPLES["token-classification"])
    name = f"hf://{repo_id}"
    extras = "hub,export" if exported else "hub"
    lines = [
        "## Usage", "",
        f"With [birnn-tag](https://pypi.org/project/birnn-tag/) installed (`pip install 'birnn-tag[{extras}]'`):", "",
        "```bash", f"birnn-tag predict {name} input.txt     # {what}", "```", "",
        "```python", "import birnn_tag", "", f'model = birnn_tag.load("{name}")', call, "```", "",
    ]
    if exported:
        lines += ["This is an ONNX export: it runs on onnxruntime, without PyTorch.", ""]
    if onnx_folder:
        lines += [(f"`{onnx_folder}/` holds an ONNX export that runs without PyTorch (`pip install 'birnn-tag[hub,export]'`): "
                   f'`birnn_tag.load("{name}/{onnx_folder}")`.'), ""]
    lines += ["`hf://ORG/NAME@REVISION` loads a branch, tag or commit; with `HF_HUB_OFFLINE=1` only the local cache is read.", ""]
    return lines


def _files(config: Config, *, onnx_folder: str | None, exported: bool) -> list[str]:
    if exported:
        files = [("`model.onnx`: the graph; `config.yaml`, `vocab.json`: how text becomes its inputs; `export.json`: "
                  "the export's format, labels and scores")]
    else:
        files = [
            ("`model.safetensors`: the weights; `model.json`: the rest of the checkpoint (format, config, vocabularies, "
             "training state, calibration): no pickles"),
            ("`config.yaml`, `vocab.json`: the run's config and vocabularies; `report-*.json`, `report-*.txt`, "
             "`metrics.jsonl`: its scores and training record"),
        ]
        if isinstance(config.model, TaggingModelConfig) and config.model.transformer.name:
            files.append("`transformer/`: the transformer's config and tokenizer, and the fingerprint of its weights")
        if isinstance(config.model, TaggingModelConfig) and config.model.lm_embeddings:
            files.append("`lm.safetensors`, `lm.json`: the language model whose states are features")
        if onnx_folder:
            files.append(f"`{onnx_folder}/`: the ONNX export")
    return ["## Files", "", *(f"- {line}" for line in files)]
