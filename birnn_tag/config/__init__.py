"""Typed, validated configuration: YAML → frozen dataclasses.

:mod:`.schema` holds the sections (one schema per task for ``model``, chosen by ``task``) and
:mod:`.reading` turns YAML, ``--set`` overrides and saved configs into a validated :class:`Config`.
"""

from birnn_tag.config.reading import (
    MAX_CONFIG_VALUES,
    apply_overrides,
    config_from_dict,
    load_config,
    parse_override,
    save_config,
    upgrade_format_1,
)
from birnn_tag.config.schema import (
    DEFAULT_TASK,
    MAX_COUNT,
    MAX_SIZE,
    MODEL_SCHEMAS,
    ClozeModelConfig,
    Config,
    DataConfig,
    EncodingConfig,
    ModelConfig,
    OutputConfig,
    Precision,
    Scheme,
    TaggingModelConfig,
    TaskName,
    TrainingConfig,
    TransformerConfig,
)

__all__ = [
    "DEFAULT_TASK", "MAX_CONFIG_VALUES", "MAX_COUNT", "MAX_SIZE", "MODEL_SCHEMAS", "ClozeModelConfig", "Config",
    "DataConfig", "EncodingConfig", "ModelConfig", "OutputConfig", "Precision", "Scheme", "TaggingModelConfig",
    "TaskName", "TrainingConfig", "TransformerConfig", "apply_overrides", "config_from_dict", "load_config", "upgrade_format_1",
    "parse_override", "save_config",
]
