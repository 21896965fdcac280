"""training.tracking: mlflow — a run read back with MLflow's own client: params, per-epoch
metrics, reports, the run folder as artifacts; a resumed run continues its MLflow run."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

import birnn_tag
from birnn_tag.config import config_from_dict
from birnn_tag.errors import ConfigError
from conftest import tiny_config_dict


def test_a_run_is_an_mlflow_run_and_its_resume_continues_it(tmp_path, tiny_conll, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow keeps a database store's artifacts in ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = tiny_config_dict(tiny_conll, tmp_path / "run", epochs=2, tracking="mlflow", tracking_uri=uri, tracking_experiment="tiny")
    run_dir = birnn_tag.train(config_from_dict(settings))
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["training.lr"] == "0.02" and run.data.params["model.hidden_size"] == "16"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev_f1")] == [1, 2]
    assert run.data.metrics["test_f1"] == pytest.approx(birnn_tag.load(run_dir, device="cpu").evaluate("test").summary()["f1"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"best.pt", "config.yaml", "metrics.jsonl", "report.json"} <= artifacts
    assert (tmp_path / "mlruns").is_dir()

    settings["training"]["epochs"] = 3
    birnn_tag.train(config_from_dict(settings), resume=True)
    [again] = client.search_runs([run.info.experiment_id])
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev_f1")] == [1, 2, 3]


def test_an_unusable_tracking_uri_fails_before_training(tmp_path, tiny_conll):
    settings = tiny_config_dict(tiny_conll, tmp_path / "run", epochs=1, tracking="mlflow", tracking_uri="nosuchscheme://x")
    with pytest.raises(ConfigError, match=r"^training.tracking_uri=nosuchscheme://x: "):
        birnn_tag.train(config_from_dict(settings))
    assert not (tmp_path / "run").exists()
