"""Reading a configuration: YAML and ``--set`` overrides → a validated :class:`Config`.

Unknown keys fail with their dotted path and a "did you mean" hint; wrong types name the key and
the expected type; the model section is read by the schema of the config's task, and a setting of
the other task is refused with its key. A config read from YAML or from a checkpoint may share
sub-structures (YAML aliases, pickle references) so that a small file expands to billions of
values; it is measured before anything walks it, and values shown in messages are abbreviated.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import itertools
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from birnn_tag.config.schema import (
    DEFAULT_TASK,
    MODEL_SCHEMAS,
    Config,
    TOKENIZERS,
    ModelConfig,
    TaggingModelConfig,
    TaskName,
    known_tokenizer,
)
from birnn_tag.errors import ConfigError, first_line, short_repr

# Keys and values a config may hold, counting a shared sub-structure once per place it is used:
# a full config has about 150, so this leaves room for long lists while refusing alias bombs.
MAX_CONFIG_VALUES = 10_000


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
    """``model.word_dim: 0`` leaves a tagger nothing to read but contextual features, which
    are computed per sentence and so cannot be read with document context."""
    model = config.model
    if model.word_dim == 0 and not model.contextual():
        raise ConfigError("model.word_dim: 0 (no word embedding) needs model.transformer or model.lm_embeddings (taggers only)")
    if isinstance(model, TaggingModelConfig) and model.document_context and model.contextual():
        raise ConfigError("model.document_context: not with model.transformer or model.lm_embeddings (their features are per sentence)")
    if isinstance(model, TaggingModelConfig) and model.document_context and config.data.validation_fraction > 0:
        raise ConfigError(
            "data.validation_fraction: carves random sentences out of their documents, which model.document_context "
            "reads whole; give a validation file (data.validation) instead"
        )
    if isinstance(model, TaggingModelConfig) and model.document_memory and not model.document_context:
        raise ConfigError("model.document_memory: needs model.document_context (the window it reads)")


def upgrade_format_1(raw: dict[str, Any]) -> dict[str, Any]:
    """A config saved by checkpoint or export format 1 in today's terms: its ``data.tokenizer``
    (whitespace or ptb) applied to cloze text only, and a tagger's text was tokenized as
    ``default`` does."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw  # refused with its key when the config is read
    if raw.get("task", DEFAULT_TASK) != "cloze" or data.get("tokenizer") == "ptb":
        data = {**data, "tokenizer": "default"}
    return {**raw, "data": data}


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"data.encoding: unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252, utf-16)") from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: ``1e-3`` is a number, as every user means
    (YAML 1.1, which PyYAML follows, wants ``1.0e-3`` and reads ``1e-3`` as text)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str | bytes, what: str) -> Any:
    """``text`` as YAML (safe, with YAML 1.2 floats); any way it fails is a :class:`ConfigError`
    starting with ``what``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
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
    if text.strip() == "-":
        return path, "-"  # YAML reads a lone dash as a list holding null; on a command line it is the text (data.missing_tag=-)
    value = parse_yaml(text, f"--set {key}: cannot parse value {short_repr(text)}") if text.strip() else None
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
        _check_encoding(config.data.encoding)
        if not known_tokenizer(config.data.tokenizer):
            raise ConfigError(f"data.tokenizer: unknown tokenizer {config.data.tokenizer!r} (expected one of {', '.join(TOKENIZERS)})")
        return config
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config file, apply ``--set`` overrides and validate the result."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    # Bytes: PyYAML detects the encoding and reports undecodable bytes as a YAML error.
    raw = parse_yaml(path.read_bytes(), f"{path}: not valid YAML")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return config_from_dict(apply_overrides(raw or {}, overrides or []), str(path))


def save_config(config: Config, path: Path) -> None:
    """Write the resolved config as YAML (loadable again by :func:`load_config`)."""
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
