"""birnn-tag tune: space files checked before any trial, studies shared by processes without a
trial lost or run twice, a killed study resumed, pruned trials stopped early, the best config
ready to train, and --seeds comparing it with the base."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml
from typer.testing import CliRunner

import birnn_tag
from birnn_tag.cli.app import app
from birnn_tag.config import load_config
from birnn_tag.errors import ConfigError
from conftest import tiny_config_dict

SPACE = {
    "training.lr": {"type": "float", "low": 0.001, "high": 0.05, "log": True},
    "model.hidden_size": {"type": "int", "low": 8, "high": 16, "step": 8},
    "model.char_encoder": {"type": "categorical", "choices": ["cnn", "lstm"]},
}


def setup(tmp_path, tiny_conll, space=SPACE, **training):
    config, space_file = tmp_path / "c.yaml", tmp_path / "space.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(tiny_conll, tmp_path / "run", **{"epochs": 3, **training})))
    space_file.write_text(yaml.safe_dump(space, sort_keys=False))
    return config, space_file


def finished(storage: str, name: str = "c") -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=storage)
    return [t for t in study.get_trials() if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]


def epochs_in(run_dir) -> list[int]:
    return [yaml.safe_load(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "space, message",
    [
        ({"training.lr": {"type": "float", "low": 0.1, "high": 0.01}}, r"training.lr: low \(0.1\) must be below high \(0.01\)"),
        ({"training.lr": {"type": "real", "low": 0.1, "high": 1}}, r"training.lr: expected \{type: float \| int \| categorical"),
        ({"training.lr": {"type": "float", "low": 0.0, "high": 1, "log": True}}, r"training.lr: log: needs low above 0"),
        ({"model.hidden_size": {"type": "int", "low": 8, "high": 16.5}}, r"model.hidden_size: high: expected an integer"),
        ({"model.layers": {"type": "int", "low": 1, "high": 3}}, r"model.layers: the config refuses 1: .*unknown key 'model.layers'"),
        ({"model.num_layers": {"type": "int", "low": 0, "high": 3}}, r"model.num_layers: the config refuses 0"),
        ({"model.char_encoder": {"type": "categorical", "choices": ["cnn", "gru"]}}, r"model.char_encoder: the config refuses 'gru'"),
        ({"training.lr": {"type": "float", "low": 0.1, "high": 1, "steps": 2}}, r"training.lr: unknown field\(s\) steps for type float"),
    ],
)
def test_a_bad_space_fails_before_any_trial_naming_file_and_key(tmp_path, tiny_conll, space, message):
    config, space_file = setup(tmp_path, tiny_conll, space)
    with pytest.raises(ConfigError, match=rf"^{space_file}: {message}"):
        birnn_tag.tune(config, space_file, 2)
    assert not (tmp_path / "run-tune" / "trial-0000").exists()
    result = CliRunner().invoke(app, ["tune", str(config), "--space", str(space_file), "--trials", "2"])
    assert result.exit_code == 1 and str(space_file) in result.output


def test_a_study_yields_the_best_config_ready_to_train_and_compares_it_over_seeds(tmp_path, tiny_conll):
    config, space_file = setup(tmp_path, tiny_conll)
    result = birnn_tag.tune(config, space_file, 3, seed=0, seeds=2, prune=False)
    study = result.study
    assert [row.state for row in study.trials] == ["COMPLETE"] * 3
    assert study.best.value == max(row.value for row in study.trials)
    best = load_config(study.best_config)
    assert (best.training.lr, best.model.hidden_size, best.model.char_encoder) == tuple(study.best.params[k] for k in SPACE)
    assert best.output.dir == f"{tmp_path / 'run'}-best"
    for row in study.trials:  # each trial is a normal run folder with its values
        trained = load_config(f"{row.run_dir}/config.yaml")
        assert trained.training.lr == row.params["training.lr"] and epochs_in(tmp_path / row.run_dir) == [1, 2, 3]
    header = (study.table).read_text().splitlines()[0]
    assert header == "number,state,value,epochs,training.lr,model.hidden_size,model.char_encoder,run_dir"
    assert [run.name for run in result.best_runs] == ["seed-1", "seed-2"] and len(result.base_runs) == 2
    assert load_config(result.best_runs[1] / "config.yaml").training.seed == 2
    assert result.comparison is not None and result.comparison.runs_b == [str(run) for run in result.best_runs]
    again = birnn_tag.tune(config, space_file, 3, seed=0)  # the study is done: no trial runs again
    assert [row.number for row in again.study.trials] == [0, 1, 2]


def _tune(tmp_path, config, space_file, trials, storage, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "birnn_tag", "tune", str(config), "--space", str(space_file), "--trials", str(trials),
         "--storage", storage, "--out", str(tmp_path / "study"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_two_processes_share_a_study_with_no_trial_lost_or_run_twice(tmp_path, tiny_conll):
    config, space_file = setup(tmp_path, tiny_conll)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = (_tune(tmp_path, config, space_file, 5, storage, "--no-prune") for _ in range(2))
    outputs = [process.communicate(timeout=300)[0] for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    done = finished(storage)
    assert len(done) == 5
    folders = [t.user_attrs["run_dir"] for t in done]
    assert len(set(folders)) == 5  # nothing trained twice
    assert sorted(p.name for p in (tmp_path / "study").glob("trial-*")) == sorted(os.path.basename(f) for f in folders)
    assert all(epochs_in(tmp_path / "study" / os.path.basename(f)) == [1, 2, 3] for f in folders)
    assert all("trial" in output for output in outputs)  # both processes took trials


def test_a_killed_study_resumes_its_killed_trial_from_last_pt(tmp_path, tiny_conll):
    config, space_file = setup(tmp_path, tiny_conll, epochs=40)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    process = _tune(tmp_path, config, space_file, 2, storage, "--seed", "0")
    metrics = tmp_path / "study" / "trial-0000" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(epochs_in(tmp_path / "study" / "trial-0000"))
    assert 2 <= killed_at < 40
    again = _tune(tmp_path, config, space_file, 2, storage, "--seed", "0")
    output = again.communicate(timeout=300)[0]
    assert again.returncode == 0, output
    study = optuna.load_study(study_name="c", storage=storage)
    trials = study.get_trials()
    assert trials[0].state == optuna.trial.TrialState.FAIL  # the killed one, re-queued with its values
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == 0)
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.params == trials[0].params
    assert epochs_in(tmp_path / "study" / "trial-0000") == list(range(1, 41))  # resumed, no epoch twice
    assert len(finished(storage)) == 2


def test_trials_trailing_the_median_are_pruned_with_their_epochs_counted(tmp_path, tiny_conll):
    space = {"training.lr": {"type": "float", "low": 1e-7, "high": 0.05, "log": True}}
    config, space_file = setup(tmp_path, tiny_conll, space, epochs=8)
    result = birnn_tag.tune(config, space_file, 5, seed=0, prune_after=1)
    pruned = [row for row in result.study.trials if row.state == "PRUNED"]
    assert pruned and result.study.best.state == "COMPLETE"
    # Not before epoch 3 (warm-up), and the run folder holds the epochs the table counts.
    assert all(3 <= row.epochs < 8 and epochs_in(tmp_path / row.run_dir) == list(range(1, row.epochs + 1)) for row in pruned)
