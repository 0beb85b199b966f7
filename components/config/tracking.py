"""MLflow set-up shared by the steps: tracking URI and an experiment whose artifacts live in the data root."""

from __future__ import annotations

import mlflow

from components.config.layout import DataLayout
from components.config.settings import Settings


def use_experiment(settings: Settings) -> str:
    """Point MLflow at the settings' tracking server and experiment; returns the experiment id.

    A new experiment stores its artifacts under the data root (a local SQLite backend would
    otherwise write them to ./mlruns of whatever directory the step runs in).
    """
    mlflow.set_tracking_uri(settings.mlflow_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        location = DataLayout(settings.data_root.resolve()).mlartifacts.as_uri()
        experiment_id = mlflow.create_experiment(settings.experiment_name, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
