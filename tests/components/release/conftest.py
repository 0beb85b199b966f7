"""A real MLflow registry on SQLite under tmp_path, with MLflow's process-global state pointed elsewhere.

The release steps take an explicit client: while a test runs, MLflow's global tracking and registry
URIs name a database nobody may create (`tests.mlflow_globals.Elsewhere`), so a step that fell back on
them would leave it behind, and the test says so. The globals are restored after each test.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.config.tracking import experiment_id, mlflow_client
from tests.mlflow_globals import Elsewhere
from tests.serving_world import make_features, train_booster

LABEL = "fwd_sharpe_30d"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Elsewhere:
    return Elsewhere(tmp_path / "elsewhere.db", monkeypatch)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_root=tmp_path / "root", label=LABEL)


@pytest.fixture
def client(settings, elsewhere) -> MlflowClient:
    return mlflow_client(settings)


@pytest.fixture(scope="session")
def features():
    """Seeded features of 60 accounts at two month-ends, with a label (the serving world's)."""
    frame = make_features(60)
    return frame.assign(**{LABEL: frame["sharpe_12m"] * 0.5 + frame["alpha_tstat_12m"] * 0.1})


@pytest.fixture(scope="session")
def booster(features):
    return train_booster(features)


def register_booster(
    client: MlflowClient, settings: Settings, booster, tags: dict | None = None, alias: str | None = None
) -> str:
    """Log `booster` on a new run and register it through `client` only; returns the version."""
    run = client.create_run(experiment_id(client, settings))
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / registry.MODEL_ARTIFACT
        mlflow.lightgbm.save_model(booster, local, pip_requirements=[])  # no requirement inference
        client.log_artifacts(run.info.run_id, str(local), registry.MODEL_ARTIFACT)
    client.set_terminated(run.info.run_id)
    with contextlib.suppress(MlflowException):  # registered by an earlier call
        client.create_registered_model(settings.model_name)
    source = f"{run.info.artifact_uri}/{registry.MODEL_ARTIFACT}"
    version = str(client.create_model_version(settings.model_name, source, run.info.run_id).version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    if alias is not None:
        client.set_registered_model_alias(settings.model_name, alias, version)
    return version


@pytest.fixture
def register(client, settings, booster):
    """`register(tags=..., alias=...)`: register the session's booster in the test's registry."""
    return lambda tags=None, alias=None: register_booster(client, settings, booster, tags, alias)
