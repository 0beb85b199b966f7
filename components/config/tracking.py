"""MLflow state, built from the settings in one place: the client, the experiment, registered boosters.

An entry point (a KFP component's body, a CLI command, a server's ``load``) builds the client once
with `mlflow_client` and passes it down, as KServe passes ``predictor_host``; no module relies on a
tracking URI set somewhere else. Only the training step needs MLflow's process-global ("fluent")
state, and `use_experiment` is the one function that sets it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient

from components.config.layout import DataLayout
from components.config.settings import Settings


@dataclass(frozen=True)
class Tracking:
    """An MLflow client and the experiment the training runs go to."""

    client: MlflowClient
    experiment_id: str


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client of the settings' tracking server and model registry (the same URI), given explicitly.

    Example:
        >>> mlflow_client(Settings(data_root="/tmp/sr")).tracking_uri
        'sqlite:////tmp/sr/mlflow.db'
    """
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The id of the settings' experiment, created on first use with its artifacts under the data root.

    A local SQLite backend would otherwise write the artifacts to ./mlruns of whatever directory the
    step runs in.
    """
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return experiment.experiment_id
    location = DataLayout(settings.data_root.resolve()).mlartifacts.as_uri()
    return client.create_experiment(settings.experiment_name, artifact_location=location)


def open_tracking(settings: Settings) -> Tracking:
    """The client of the settings and their experiment (created if need be)."""
    client = mlflow_client(settings)
    return Tracking(client, experiment_id(client, settings))


def use_experiment(settings: Settings) -> Tracking:
    """`open_tracking`, and point MLflow's fluent API at the same server and experiment.

    Call it once, from the entry point of a process that logs a model. ``mlflow.start_run`` and
    ``mlflow.lightgbm.log_model`` take no client: MLflow 3's ``log_model`` creates the logged model,
    uploads its files and registers the version through the process-global tracking URI and the
    active run, so that URI must be set; this is the only place that sets it.
    """
    tracking = open_tracking(settings)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    mlflow.set_experiment(experiment_id=tracking.experiment_id)
    return tracking


def download_model(client: MlflowClient, model_name: str, version: str, dst_path: str) -> str:
    """Download the MLflow model directory of `model_name` `version` into `dst_path`; returns its path.

    The version's storage location comes from `client`'s registry and the files from that location
    with `client`'s tracking URI (``mlflow.artifacts.download_artifacts`` of a ``models:/`` URI would
    resolve the registry through the global URI instead).
    """
    location = client.get_model_version_download_uri(model_name, version)
    return mlflow.artifacts.download_artifacts(
        artifact_uri=location, dst_path=dst_path, tracking_uri=client.tracking_uri
    )


def load_booster(client: MlflowClient, model_name: str, version: str):
    """The LightGBM Booster registered as `model_name` `version`, read through `client`."""
    with tempfile.TemporaryDirectory() as tmp:
        return mlflow.lightgbm.load_model(download_model(client, model_name, version, tmp))
