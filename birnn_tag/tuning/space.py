"""A search space file: config keys and the values ``tune`` may give them, one key each.

    training.lr: {type: float, low: 0.0005, high: 0.01, log: true}
    model.num_layers: {type: int, low: 1, high: 3}
    model.char_encoder: {type: categorical, choices: [cnn, lstm]}

``float`` and ``int`` take ``low``, ``high`` (inclusive), ``log`` or ``step``; ``categorical``
takes ``choices``. Every key is checked against the config before the first trial, with each
bound and choice applied, so a typo or a value the config refuses fails at once, not in trial 7.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from birnn_tag.config import load_config
from birnn_tag.config.reading import parse_yaml
from birnn_tag.errors import ConfigError, short_repr

_FIELDS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"}, "categorical": {"choices"}}


@dataclass(frozen=True)
class Dimension:
    """One key of the space and the values it may take."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This key's value for an Optuna ``trial``."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def override(self, value: Any) -> str:
        """``key=value`` as ``--set`` takes it (JSON is YAML, and keeps strings strings)."""
        return f"{self.key}={json.dumps(value)}"

    def extremes(self) -> list[Any]:
        """The values that show whether the config accepts this dimension: bounds, every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]


def read_space(path: Path, config: Path, overrides: Sequence[str] = ()) -> list[Dimension]:
    """The dimensions of the space file ``path``, checked against ``config`` (with ``overrides``)."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the search space: {error.strerror}") from None
    raw = parse_yaml(text, f"{path}: not valid YAML")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: expected a mapping of config keys to ranges, e.g. 'training.lr: {{type: float, low: 0.001, high: 0.1, log: true}}'")
    dimensions = [_dimension(path, str(key), spec) for key, spec in raw.items()]
    for dimension in dimensions:
        for value in dimension.extremes():
            try:
                load_config(config, [*overrides, dimension.override(value)])
            except ConfigError as error:
                raise ConfigError(f"{path}: {dimension.key}: the config refuses {short_repr(value)}: {error}") from None
    return dimensions


def _dimension(path: Path, key: str, spec: Any) -> Dimension:
    where = f"{path}: {key}"
    if not isinstance(spec, dict) or spec.get("type") not in _FIELDS:
        raise ConfigError(f"{where}: expected {{type: float | int | categorical, ...}}, got {short_repr(spec)}")
    kind = spec["type"]
    unknown = set(spec) - _FIELDS[kind] - {"type"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} for type {kind} (expected {', '.join(sorted(_FIELDS[kind]))})")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices or not all(isinstance(c, (str, int, float, bool)) or c is None for c in choices):
            raise ConfigError(f"{where}: choices: expected a non-empty list of plain values, got {short_repr(choices)}")
        if len(set(map(json.dumps, choices))) != len(choices):
            raise ConfigError(f"{where}: choices: {short_repr(choices)} repeats a value")
        return Dimension(key, kind, choices=tuple(choices))
    number = int if kind == "int" else (int, float)
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high)) + ((("step", step),) if step is not None else ()):
        if not isinstance(value, number) or isinstance(value, bool):
            raise ConfigError(f"{where}: {name}: expected {'an integer' if kind == 'int' else 'a number'}, got {short_repr(value)}")
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log: expected true or false, got {short_repr(log)}")
    if log and low <= 0:
        raise ConfigError(f"{where}: log: needs low above 0 (got {low})")
    if step is not None and log:
        raise ConfigError(f"{where}: step and log exclude each other (Optuna samples a log range continuously)")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: step: expected a positive number, got {step}")
    return Dimension(key, kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high, log, step)
