import dataclasses
from pathlib import Path

import pytest
import yaml

from birnn_tag.config import (
    MODEL_SCHEMAS,
    ClozeModelConfig,
    Config,
    TaggingModelConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    save_config,
)
from birnn_tag.errors import ConfigError


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_and_sections(tmp_path):
    config = load_config(write(tmp_path, {"model": {"hidden_size": 64}}))
    assert config.model.hidden_size == 64
    assert config.training.optimizer == "sgd"
    assert config.data.scheme == "auto"


def test_misspelled_key_names_path_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'model.hiden_size'; did you mean 'hidden_size'\?"):
        load_config(write(tmp_path, {"model": {"hiden_size": 64}}))


def test_misspelled_section_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'trainig'; did you mean 'training'"):
        load_config(write(tmp_path, {"trainig": {}}))


def test_wrong_type_names_key_and_expected_type(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml: training.epochs: expected int, got 'ten'"):
        load_config(write(tmp_path, {"training": {"epochs": "ten"}}))


def test_choice_lists_valid_values(tmp_path):
    with pytest.raises(ConfigError, match=r"data.scheme: expected one of 'auto', 'IOB2', 'BIOES', 'none', got 'BIOX'"):
        load_config(write(tmp_path, {"data": {"scheme": "BIOX"}}))


def test_bounds(tmp_path):
    with pytest.raises(ConfigError, match=r"model.num_layers: must be >= 1, got 0"):
        load_config(write(tmp_path, {"model": {"num_layers": 0}}))


def test_int_accepted_for_float_but_bool_is_not_int(tmp_path):
    assert load_config(write(tmp_path, {"training": {"lr": 1}})).training.lr == 1.0
    with pytest.raises(ConfigError, match="training.epochs"):
        load_config(write(tmp_path, {"training": {"epochs": True}}))


def test_overrides_parse_yaml_values(tmp_path):
    config = load_config(
        write(tmp_path, {"model": {"hidden_size": 64}}),
        ["model.hidden_size=128", "training.clip_grad_norm=null", "data.train=a b.txt", "training.amp=true", "data.missing_tag=-"],
    )
    assert config.data.missing_tag == "-"  # not YAML's list of one null
    assert config.model.hidden_size == 128
    assert config.training.clip_grad_norm is None
    assert config.data.train == "a b.txt"
    assert config.training.amp is True


def test_exponents_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  lr: 1e-3\n  weight_decay: 5E-6\n")
    config = load_config(path, ["training.momentum=9e-1"])
    assert (config.training.lr, config.training.weight_decay, config.training.momentum) == (0.001, 5e-6, 0.9)


def test_override_typo_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'model.layers'"):
        load_config(write(tmp_path, {}), ["model.layers=2"])
    with pytest.raises(ConfigError, match=r"expected section.key=value"):
        apply_overrides({}, ["model.hidden_size"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_saved_config_round_trips(tmp_path):
    config = load_config(write(tmp_path, {"model": {"hidden_size": 32}, "data": {"tag_column": 3}}))
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config
    assert config_from_dict(config.to_dict()) == config
    assert isinstance(config, Config)


@pytest.mark.parametrize(
    "task,key,value,message",
    [
        ("cloze", "head", "crf", "model.head: applies to tagging models; this is a cloze config"),
        ("cloze", "casing_dim", 8, "model.casing_dim: applies to tagging models; this is a cloze config"),
        ("tagging", "direction", "forward", "model.direction: applies to cloze models; this is a tagging config"),
    ],
)
def test_a_model_key_of_the_other_task_is_refused(task, key, value, message):
    with pytest.raises(ConfigError, match=f"^config: {message}$"):
        config_from_dict({"task": task, "model": {key: value}})
    # Even at its default: the task's schema has no such key.
    default = config_from_dict({"task": "cloze" if task == "tagging" else "tagging"}).to_dict()["model"][key]
    with pytest.raises(ConfigError, match=f"^config: {message}$"):
        config_from_dict({"task": task, "model": {key: default}})


@pytest.mark.parametrize("task", sorted(MODEL_SCHEMAS))
def test_a_config_saves_its_tasks_model_keys_only(task, tmp_path):
    config = config_from_dict({"task": task})
    assert type(config.model) is MODEL_SCHEMAS[task]
    save_config(config, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert set(saved["model"]) == {f.name for f in dataclasses.fields(MODEL_SCHEMAS[task])}
    assert load_config(tmp_path / "config.yaml") == config


def test_a_saved_config_drops_the_other_tasks_model_keys():
    # Configs saved before each task had its own schema list every key (the other task's at
    # their defaults, or set and ignored by runs trained before such keys were refused).
    old = Config().to_dict()
    old["model"] |= {"direction": "forward", "output_layer": "auto", "adaptive_cutoffs": None}
    assert config_from_dict(old, saved=True) == Config()
    old["model"]["hiden_size"] = 3  # a key no task has is still refused
    with pytest.raises(ConfigError, match=r"^config: unknown key 'model.hiden_size'; did you mean 'hidden_size'\?$"):
        config_from_dict(old, saved=True)


def test_a_config_object_takes_its_tasks_model_schema():
    assert Config(task="cloze", model=ClozeModelConfig()).model.direction == "both"
    with pytest.raises(ConfigError, match="model: a cloze config takes a ClozeModelConfig, got a TaggingModelConfig"):
        Config(task="cloze", model=TaggingModelConfig())


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[2] / "configs").glob("*.yaml")))
def test_shipped_configs_load(name):
    load_config(Path(__file__).parents[2] / "configs" / name)
