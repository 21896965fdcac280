"""``training.tracking: mlflow``: a run also as an MLflow run (the optional ``[tune]`` extra),
beside TensorBoard, for users who compare runs in MLflow's UI or on a tracking server.

Logged: the config as dotted params (``training.lr``), every epoch's numbers as metrics (step =
epoch), the final reports' headline numbers (``test_f1``), and when the run ends well, the run
folder as artifacts. Through :class:`mlflow.MlflowClient`, not the fluent API, so a run never
touches a user's active MLflow run. A resumed run continues the MLflow run of its folder (found
by the ``birnn_tag.run_dir`` tag), so one training is one MLflow run however often it stops.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from birnn_tag.config import Config
from birnn_tag.errors import ConfigError, first_line
from birnn_tag.training.events import EpochDone, Event, Listener, ReportDone, StopTraining

RUN_DIR_TAG = "birnn_tag.run_dir"
# MLflow's limit on a param's value.
_PARAM_CHARS = 6000


class Tracker:
    """The MLflow run of one training run."""

    def __init__(self, client: Any, run_id: str, run_dir: Path) -> None:
        self.client, self.run_id, self.run_dir = client, run_id, run_dir

    @classmethod
    def start(cls, config: Config, run_dir: Path, resume: bool) -> Tracker:
        """Open (or, on resume, reopen) the MLflow run of ``run_dir`` in
        ``training.tracking_experiment`` at ``training.tracking_uri``."""
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError("training.tracking: mlflow needs the mlflow package: pip install 'birnn-tag[tune]'") from None
        training = config.training
        where = str(run_dir.resolve())
        try:
            client = MlflowClient(training.tracking_uri)
            experiment = client.get_experiment_by_name(training.tracking_experiment)
            experiment_id = experiment.experiment_id if experiment else client.create_experiment(training.tracking_experiment)
            earlier = client.search_runs(
                [experiment_id], filter_string=f"tags.`{RUN_DIR_TAG}` = '{_quoted(where)}'", order_by=["attributes.start_time DESC"], max_results=1
            ) if resume else []
            if earlier:
                run_id = earlier[0].info.run_id
                client.update_run(run_id, status="RUNNING")
            else:
                run = client.create_run(experiment_id, run_name=run_dir.name, tags={RUN_DIR_TAG: where, "birnn_tag.task": config.task})
                run_id = run.info.run_id
                _log(client, run_id, params=_params(config.to_dict()))
        except MlflowException as error:
            raise ConfigError(f"training.tracking_uri={training.tracking_uri or 'MLflow default'}: {first_line(error)}") from None
        return cls(client, run_id, run_dir)

    def listener(self, then: Listener) -> Listener:
        """A listener that logs epochs and reports, then passes every event on to ``then``."""

        def listen(event: Event) -> None:
            if isinstance(event, EpochDone):
                _log(self.client, self.run_id, metrics=_numbers(event.record, ""), step=event.record["epoch"])
            elif isinstance(event, ReportDone):
                _log(self.client, self.run_id, metrics=_numbers(event.report.summary(), f"{event.split}_"), step=0)
            then(event)

        return listen

    def end(self, error: BaseException | None) -> None:
        """Close the run: FINISHED with the run folder as artifacts; KILLED when stopped on
        purpose (:class:`StopTraining`, Ctrl-C); FAILED otherwise."""
        if error is None:
            self.client.log_artifacts(self.run_id, str(self.run_dir))
            status = "FINISHED"
        else:
            status = "KILLED" if isinstance(error, (StopTraining, KeyboardInterrupt)) else "FAILED"
        self.client.set_terminated(self.run_id, status)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)[:_PARAM_CHARS]
    return flat


def _numbers(values: dict[str, Any], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}{key}": float(value)
        for key, value in values.items()
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _log(client: Any, run_id: str, *, params: dict[str, str] | None = None, metrics: dict[str, float] | None = None, step: int = 0) -> None:
    from mlflow.entities import Metric, Param

    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, stamp, step) for key, value in (metrics or {}).items()],
        params=[Param(key, value) for key, value in (params or {}).items()],
    )
