"""MLflow: one monitoring run per window, linked to the registered version the feed served.

The runs live in the experiment ``<experiment_name>-monitoring``. A window's run is found by its tags
(window, model name and version) or created once; each step adds the metrics it measured that the run
does not hold yet (a realised label that matured months later joins the same run), and the decision adds
its verdict, its reasons and the report. The model version gets a tag naming its latest monitoring run,
so the registry links to it as the run links to the version.
"""

from __future__ import annotations

import json
import math

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from mlflow.utils.time import get_current_time_millis

from components.config.settings import Settings
from components.config.tracking import experiment_id
from monitoring.decision import Decision
from monitoring.served import ServedModel

EXPERIMENT_SUFFIX = "-monitoring"
TAG_WINDOW = "skillrank.window"
TAG_MODEL = "skillrank.model_name"
TAG_VERSION = "skillrank.model_version"
TAG_MODEL_RUN = "skillrank.model_run_id"
TAG_LATEST_MONITORING_RUN = "latest_monitoring_run"


def monitoring_experiment(client: MlflowClient, settings: Settings) -> str:
    """The id of the monitoring experiment (created with its artifacts under the data root)."""
    named = settings.model_copy(update={"experiment_name": settings.experiment_name + EXPERIMENT_SUFFIX})
    return experiment_id(client, named)


def window_run(client: MlflowClient, experiment: str, served: ServedModel, window: str) -> str:
    """The id of the monitoring run of `window` for `served`, created (and closed) the first time."""
    query = (
        f"tags.`{TAG_WINDOW}` = '{window}' and tags.`{TAG_MODEL}` = '{served.name}' "
        f"and tags.`{TAG_VERSION}` = '{served.version}'"
    )
    found = client.search_runs([experiment], filter_string=query, max_results=1)
    if found:
        return found[0].info.run_id
    tags = {
        "mlflow.runName": f"monitor {window} v{served.version}",
        TAG_WINDOW: window,
        TAG_MODEL: served.name,
        TAG_VERSION: served.version,
        TAG_MODEL_RUN: served.run_id or "",
    }
    run = client.create_run(experiment, tags=tags)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def log_window_metrics(
    client: MlflowClient, settings: Settings, served: ServedModel, rows: dict[str, dict[str, float]]
) -> int:
    """Log each window's metrics (`rows`: window -> name -> value) that its run lacks; returns how many.

    Values that are not finite (a proxy label not known yet) are left for a later run to log.
    """
    experiment = monitoring_experiment(client, settings)
    logged = 0
    now = get_current_time_millis()
    for window, values in rows.items():
        run_id = window_run(client, experiment, served, window)
        present = client.get_run(run_id).data.metrics
        metrics = [
            Metric(name, float(value), now, 0)
            for name, value in values.items()
            if name not in present and value is not None and math.isfinite(float(value))
        ]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
            logged += len(metrics)
    return logged


def log_decision(
    client: MlflowClient, settings: Settings, served: ServedModel, decision: Decision, report: str | None
) -> str:
    """Record `decision` on its window's run (tags, the JSON, the report) and link the version to it."""
    run_id = window_run(client, monitoring_experiment(client, settings), served, decision.window)
    client.log_batch(
        run_id,
        tags=[
            RunTag("retrain", str(decision.retrain)),
            RunTag("rules_fired", ",".join(decision.rules_fired) or "none"),
            RunTag("reasons", " | ".join(decision.reasons)[:5000]),
        ],
    )
    client.log_text(run_id, json.dumps(decision.to_dict(), indent=2, default=str), "decision.json")
    if report is not None:
        client.log_artifact(run_id, report)
    client.set_model_version_tag(served.name, served.version, TAG_LATEST_MONITORING_RUN, run_id)
    return run_id
