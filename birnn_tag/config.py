"""Typed, validated configuration: YAML → frozen dataclasses.

One schema, one name per setting: the YAML key, the dataclass field and the checkpoint key are
the same string. Unknown keys fail with their dotted path and a "did you mean" hint; wrong types
name the key and the expected type. The model section has one schema per task, chosen by
``task``: a setting of the other task is refused with its key. A config read from YAML or from a checkpoint may share
sub-structures (YAML aliases, pickle references) so that a small file expands to billions of
values; it is measured before anything walks it, and values shown in messages are abbreviated.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from birnn_tag.errors import ConfigError, first_line, short_repr

# The scheme a tagger is trained and scored in: a span scheme (entities, chunks), "none" (token
# labels as they are: POS tags), or "auto" (none when no tag has a span prefix, else IOB2).
Scheme = Literal["auto", "IOB2", "BIOES", "none"]
Precision = Literal["fp32", "bf16", "auto"]

# Keys and values a config may hold, counting a shared sub-structure once per place it is used:
# a full config has about 150, so this leaves room for long lists while refusing alias bombs.
MAX_CONFIG_VALUES = 10_000


# Upper bounds for sizes and counts: far beyond any useful value, low enough that a typo such as
# 10**23 is refused with the key's name instead of failing inside torch or Python.
MAX_SIZE = 2**16  # dimensions, layers, threads, kernel and word lengths
MAX_COUNT = 2**31 - 1  # epochs, batch sizes, sentence lengths, vocabulary sizes


def _bounded(default: Any, *, min: float | None = None, max: float | None = None) -> Any:
    """A dataclass field whose numeric value must lie in [min, max]."""
    return field(default=default, metadata={"min": min, "max": max})


@dataclass(frozen=True)
class DataConfig:
    """Where the sentences come from and how their tags are read.

    Exactly one source: ``hub`` (a Hugging Face dataset id), ``disk`` (a ``save_to_disk`` folder)
    or per-split files (``train``/``validation``/``test``: CoNLL columns, json, jsonl, csv, parquet).
    """

    format: Literal["auto", "conll", "conllu", "text", "json", "csv", "parquet"] = "auto"
    # Cloze: also a list of files, read one after the other (a CoNLL file needs data.token_column).
    train: str | list[str] | None = None
    validation: str | None = None
    test: str | None = None
    hub: str | None = None
    hub_config: str | None = None
    disk: str | None = None
    # CoNLL files: column index (0-based, negative counts from the end); tables: field name;
    # CoNLL-U: a column name (form, lemma, upos, xpos, feats, deprel...) or index; tags default to upos.
    # Cloze: a file in CoNLL columns (neither .txt nor a table) is read as columns only when
    # token_column is set, one sentence per line of text; otherwise as plain text.
    token_column: int | str | None = None
    tag_column: int | str | None = None
    separator: Literal["auto", "space", "tab"] = "auto"
    validation_fraction: float = _bounded(0.0, min=0.0, max=0.5)
    input_scheme: Literal["auto", "IOB1", "IOB2", "BIOES", "none"] = "auto"
    scheme: Scheme = "auto"
    invalid_tags: Literal["repair", "error"] = "repair"
    max_length: int = _bounded(250, min=1, max=MAX_COUNT)
    long_sentences: Literal["split", "error"] = "split"
    # Cloze: where the text is in a table (a string, or a list of tokens), and how it is tokenized.
    text_column: str = "text"
    tokenizer: Literal["whitespace", "ptb"] = "whitespace"


@dataclass(frozen=True)
class EncodingConfig:
    """How tokens become ids; vocabularies are built from the training split only."""

    lowercase: bool = False
    normalize_digits: bool = True
    min_freq: int = _bounded(1, min=1, max=MAX_COUNT)
    max_size: int | None = _bounded(None, min=1, max=MAX_COUNT)
    # Add every word of any split that has a pretrained vector (model.embeddings) to the vocabulary.
    include_pretrained: bool = False
    max_word_length: int = _bounded(30, min=1, max=MAX_SIZE)


@dataclass(frozen=True)
class TransformerConfig:
    """Features of a pretrained transformer (``transformers``' Auto classes; the ``[transformers]``
    extra) joined to each word's representation; off while ``name`` is null."""

    # A Hugging Face hub id or a local model folder.
    name: str | None = None
    # Hidden states to mix (0: the embedding layer's output, -1: the last layer), by a learned scalar mix.
    # null: the top four the model has (all of them for a model of fewer than four layers).
    layers: list[int] | None = None
    # Which subword of a word stands for it: the first, the mean of all, or the last.
    pooling: Literal["first", "mean", "last"] = "first"
    # Train the transformer's weights with the tagger. Frozen (false), each split's features are
    # computed once and cached, and the run folder keeps no copy of the weights.
    fine_tune: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """The settings every model has; each task's schema adds its own (:data:`MODEL_SCHEMAS`)."""

    # 0: no word embedding, for a tagger on contextual features alone (model.transformer, lm_embeddings).
    word_dim: int = _bounded(100, min=0, max=MAX_SIZE)
    # The recurrent cell of the tagger's encoder and character BiRNN, and of the cloze stacks.
    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    hidden_size: int = _bounded(200, min=1, max=MAX_SIZE)
    num_layers: int = _bounded(1, min=1, max=MAX_SIZE)
    dropout: float = _bounded(0.5, min=0.0, max=0.95)

    def contextual(self) -> bool:
        """Whether the model reads contextual features (a transformer's, a language model's)
        beside its word embedding."""
        return False

    def input_paths(self) -> list[str]:
        """The files and folders the model reads when it is built, beside the data."""
        return []


@dataclass(frozen=True)
class TaggingModelConfig(ModelConfig):
    """A tagger: embeddings → optional character CNN or BiRNN → stacked BiRNN (``cell``) →
    output head."""

    # Pretrained vectors (GloVe / word2vec / fastText text, .gz ok); word_dim must match their size.
    embeddings: str | None = None
    freeze_embeddings: bool = False
    word_dropout: float = _bounded(0.0, min=0.0, max=0.9)
    casing_dim: int = _bounded(0, min=0, max=MAX_SIZE)  # word-shape feature embedding; 0 = off
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    # A trained cloze run (TagLM): its forward and backward states at each word, frozen, join the
    # word's representation.
    lm_embeddings: str | None = None
    char_encoder: Literal["none", "cnn", "lstm"] = "cnn"
    char_dim: int = _bounded(30, min=1, max=MAX_SIZE)
    char_filters: int = _bounded(50, min=1, max=MAX_SIZE)
    char_kernel_size: int = _bounded(3, min=1, max=MAX_SIZE)
    char_hidden_size: int = _bounded(25, min=1, max=MAX_SIZE)  # per direction, char_encoder: lstm
    head: Literal["softmax", "crf"] = "softmax"
    # Decode only tag sequences the scheme allows (no O → I-X), for both heads; data.scheme none
    # allows every sequence, so there is nothing to constrain.
    constrained: bool = True

    def contextual(self) -> bool:
        return bool(self.transformer.name or self.lm_embeddings)

    def input_paths(self) -> list[str]:
        return [path for path in (self.embeddings, self.lm_embeddings, self.transformer.name) if path]


@dataclass(frozen=True)
class ClozeModelConfig(ModelConfig):
    """A cloze model: word embeddings → directional stacks (``cell``) → a distribution over words."""

    # Which context the prediction at t sees (x_<t, x_>t or both), and the output layer.
    direction: Literal["both", "forward", "backward"] = "both"
    output_layer: Literal["auto", "softmax", "adaptive"] = "auto"
    adaptive_cutoffs: list[int] | None = None


# The user's contract: `task` picks the model section's schema.
TaskName = Literal["tagging", "cloze"]
DEFAULT_TASK: TaskName = "tagging"
MODEL_SCHEMAS: dict[str, type[ModelConfig]] = {"tagging": TaggingModelConfig, "cloze": ClozeModelConfig}


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation, early stopping, device and reproducibility."""

    epochs: int = _bounded(30, min=1, max=MAX_COUNT)
    batch_size: int = _bounded(32, min=1, max=MAX_COUNT)
    eval_batch_size: int = _bounded(256, min=1, max=MAX_COUNT)
    # Tagging models' evaluation and prediction: bf16 autocast, fp32, or auto (bf16 on hardware
    # with native bf16); birnn_tag/runtime/precision.py.
    eval_precision: Precision = "fp32"
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = _bounded(0.015, min=0.0)
    momentum: float = _bounded(0.9, min=0.0, max=1.0)
    lr_decay: float = _bounded(0.05, min=0.0)
    weight_decay: float = _bounded(0.0, min=0.0)
    clip_grad_norm: float | None = _bounded(5.0, min=0.0)
    patience: int | None = _bounded(5, min=1, max=MAX_COUNT)
    # torch.manual_seed takes 64-bit seeds; 32 bits leave room for those derived from this one
    # (training.epoch_seed: one per epoch and rank).
    seed: int = _bounded(1, min=0, max=2**32 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = False
    threads: int | None = _bounded(None, min=1, max=MAX_SIZE)
    progress: bool = True
    # Also write each epoch's metrics as TensorBoard scalars, an event file in the run folder ([tensorboard] extra).
    tensorboard: bool = False


@dataclass(frozen=True)
class OutputConfig:
    """Where the run folder goes."""

    dir: str = "runs/run"
    overwrite: bool = False


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of a run."""

    task: TaskName = DEFAULT_TASK
    data: DataConfig = DataConfig()
    encoding: EncodingConfig = EncodingConfig()
    # The schema of ``task`` (:data:`MODEL_SCHEMAS`): ``Config(task="cloze", model=ClozeModelConfig())``.
    model: ModelConfig = TaggingModelConfig()
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()

    def __post_init__(self) -> None:
        schema = MODEL_SCHEMAS[self.task]
        if type(self.model) is not schema:
            raise ConfigError(f"model: a {self.task} config takes a {schema.__name__}, got a {type(self.model).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (the form saved in run folders and checkpoints)."""
        return dataclasses.asdict(self)


def _check_size(raw: Any) -> None:
    """Raise if ``raw`` holds more than :data:`MAX_CONFIG_VALUES` keys and values.

    A sub-structure is counted each time it is reached, as validating or printing it would walk
    it; counting stops as soon as the budget is spent, so shared references cannot make it slow.
    """
    pending, count = [raw], 1
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            count += 2 * len(value)
            children = itertools.chain(value.keys(), value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            count += len(value)
            children = value
        else:
            continue
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(f"config expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases?)")
        pending.extend(children)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", str(annotation))


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a field annotation; return it (ints widen to float)."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
    elif origin is Literal:
        if value in typing.get_args(annotation):
            return value
    elif annotation is type(None):
        if value is None:
            return None
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an int beyond any float: refused by _check_number as infinite
                return math.inf if value > 0 else -math.inf
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif origin is list:
        if isinstance(value, list):
            (item,) = typing.get_args(annotation)
            return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    elif dataclasses.is_dataclass(annotation):
        return _build(annotation, value, key)
    raise ConfigError(f"{key}: expected {_type_name(annotation)}, got {short_repr(value)}")


def _check_number(value: Any, bounds: Mapping[str, Any], key: str) -> None:
    """Raise unless a number is finite and within a field's ``min``/``max`` metadata."""
    if isinstance(value, float) and not math.isfinite(value):
        # nan would pass every comparison below, and no setting has a use for infinity.
        raise ConfigError(f"{key}: must be a finite number, got {value}")
    low, high = bounds.get("min"), bounds.get("max")
    if value is not None and low is not None and value < low:
        raise ConfigError(f"{key}: must be >= {low}, got {short_repr(value)}")
    if value is not None and high is not None and value > high:
        raise ConfigError(f"{key}: must be <= {high}, got {short_repr(value)}")


def _build(cls: type, raw: Any, prefix: str, schemas: Mapping[str, type] | None = None) -> Any:
    """Build dataclass ``cls`` from a mapping, validating every key under ``prefix``; ``schemas``:
    the dataclass to build for some fields instead of their annotation's (the task's model schema)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {short_repr(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls) | dict(schemas or {})
    # A chosen schema's defaults stand in for a section the mapping leaves out.
    values = {name: schema() for name, schema in (schemas or {}).items()}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise ConfigError(f"{prefix or 'config'}: keys must be strings, got {short_repr(name)}")
        key = f"{prefix}.{name}" if prefix else name
        if name not in fields:
            raise _unknown_key(cls, name, key)
        value = _coerce(value, hints[name], key)
        _check_number(value, fields[name].metadata, key)
        values[name] = value
    return cls(**values)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _unknown_key(cls: type, name: str, key: str) -> ConfigError:
    """The error for a key that dataclass ``cls`` lacks: a model setting of the other task, or a
    typo (with the closest key, or the valid ones)."""
    own = next((task for task, schema in MODEL_SCHEMAS.items() if schema is cls), None)
    if own is not None:
        for task, schema in MODEL_SCHEMAS.items():
            if name in _field_names(schema):
                return ConfigError(f"{key}: applies to {task} models; this is a {own} config")
    fields = _field_names(cls)
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(fields)}"
    return ConfigError(f"unknown key '{key}'{hint}")


def _model_schema(raw: Any) -> type[ModelConfig]:
    """The model schema of the task a raw config names (a tagger's when it names none)."""
    task = raw.get("task", DEFAULT_TASK) if isinstance(raw, dict) else DEFAULT_TASK
    return MODEL_SCHEMAS[_coerce(task, TaskName, "task")]


def _without_other_tasks_settings(raw: dict[str, Any], schema: type[ModelConfig]) -> dict[str, Any]:
    """``raw`` without the model settings that only other tasks' schemas have.

    Configs saved before each task had a schema of its own list every task's settings, those of
    the other task at their defaults or, in runs trained before they were refused, set and ignored.
    """
    model = raw.get("model")
    if not isinstance(model, dict):
        return raw
    own = set(_field_names(schema))
    others = {name for other in MODEL_SCHEMAS.values() for name in _field_names(other)} - own
    return {**raw, "model": {name: value for name, value in model.items() if name not in others}}


def _check_word_dim(config: Config) -> None:
    """``model.word_dim: 0`` leaves a tagger nothing to read but contextual features."""
    model = config.model
    if model.word_dim == 0 and not model.contextual():
        raise ConfigError("model.word_dim: 0 (no word embedding) needs model.transformer or model.lm_embeddings (taggers only)")


def _parse_yaml(text: str | bytes, what: str) -> Any:
    """``yaml.safe_load(text)``; any way it fails is a :class:`ConfigError` starting with ``what``."""
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:
        # ValueError: an integer longer than Python converts from text (4300 digits), or a bad date.
        raise ConfigError(f"{what}: {first_line(error)}") from None
    except RecursionError:  # PyYAML reads nested collections recursively
        raise ConfigError(f"{what}: nested too deeply") from None


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """Split ``section.key=value`` into a key path and a YAML-parsed value."""
    if "=" not in assignment:
        raise ConfigError(f"--set {short_repr(assignment)}: expected section.key=value")
    key, text = assignment.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"--set {short_repr(assignment)}: empty key")
    value = _parse_yaml(text, f"--set {key}: cannot parse value {short_repr(text)}") if text.strip() else None
    return path, value


def apply_overrides(raw: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Return ``raw`` with every ``section.key=value`` assignment applied; ``raw`` is left as it was.

    Only the mappings on an assignment's path are copied; the rest is shared, not walked, so a
    config that expands to billions of values (YAML aliases) is left for
    :func:`config_from_dict` to measure and refuse.
    """
    result = dict(raw)
    for assignment in assignments:
        path, value = parse_override(assignment)
        node = result
        for part in path[:-1]:
            child = {} if node.get(part) is None else node[part]  # an empty section reads as null
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(path)}: '{part}' is not a section")
            node[part] = dict(child)
            node = node[part]
        node[path[-1]] = value
    return result


def config_from_dict(raw: dict[str, Any], source: str = "config", *, saved: bool = False) -> Config:
    """Validate a nested dict (from YAML or a checkpoint) into a :class:`Config`; errors are
    prefixed with ``source``. The model section is read by the schema of the config's task; a
    ``saved`` config (a checkpoint's, a run folder's) may also hold the other task's model settings,
    which are dropped: runs saved before each task had its own schema must still load."""
    try:
        _check_size(raw)
        schema = _model_schema(raw)
        if saved:
            raw = _without_other_tasks_settings(raw, schema)
        config = _build(Config, raw, "", {"model": schema})
        if not saved:
            _check_word_dim(config)
        return config
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config file, apply ``--set`` overrides and validate the result."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    # Bytes: PyYAML detects the encoding and reports undecodable bytes as a YAML error.
    raw = _parse_yaml(path.read_bytes(), f"{path}: not valid YAML")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return config_from_dict(apply_overrides(raw or {}, overrides or []), str(path))


def save_config(config: Config, path: Path) -> None:
    """Write the resolved config as YAML (loadable again by :func:`load_config`)."""
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
