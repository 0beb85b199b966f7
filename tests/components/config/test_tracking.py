"""MLflow state built from the settings: an explicit client, the experiment, the one fluent set-up."""

import mlflow
import numpy as np
import pytest

from components.config import registry
from components.config.settings import Settings
from components.config.tracking import (
    download_model,
    experiment_id,
    load_booster,
    mlflow_client,
    open_tracking,
    use_experiment,
)
from tests.mlflow_globals import Elsewhere
from tests.serving_world import FEATURE_NAMES, make_features, train_booster


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_root=tmp_path / "root")


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Elsewhere:
    return Elsewhere(tmp_path / "elsewhere.db", monkeypatch)


def test_the_client_names_the_settings_tracking_and_registry_uri(settings, elsewhere):
    client = mlflow_client(settings)
    assert client.tracking_uri == settings.mlflow_uri
    assert client._registry_uri == settings.mlflow_uri  # no public getter; the registry is the same store
    assert mlflow.get_tracking_uri() == elsewhere.uri  # building it changes no global


def test_the_experiment_is_created_once_with_its_artifacts_under_the_data_root(settings, elsewhere):
    tracking = open_tracking(settings)
    assert experiment_id(tracking.client, settings) == tracking.experiment_id
    location = tracking.client.get_experiment(tracking.experiment_id).artifact_location
    assert location == settings.layout.mlartifacts.as_uri()
    assert not elsewhere.used


def test_use_experiment_points_the_fluent_api_at_the_settings(settings, elsewhere):
    tracking = use_experiment(settings)
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (
        settings.mlflow_uri,
        settings.mlflow_uri,
    )
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == tracking.experiment_id


@pytest.fixture
def registered(settings, elsewhere):
    """A booster logged and registered as training does it, then MLflow's globals pointed elsewhere."""
    features = make_features(30)
    booster = train_booster(features)
    tracking = use_experiment(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id):
        info = mlflow.lightgbm.log_model(
            booster, name=registry.MODEL_ARTIFACT, registered_model_name=settings.model_name
        )
    elsewhere.point()
    return tracking.client, str(info.registered_model_version), booster, features


def test_a_registered_booster_loads_through_the_client_alone(settings, registered, elsewhere):
    client, version, booster, features = registered
    loaded = load_booster(client, settings.model_name, version)
    np.testing.assert_allclose(
        loaded.predict(features[FEATURE_NAMES]), booster.predict(features[FEATURE_NAMES])
    )
    assert not elsewhere.used


def test_the_model_directory_downloads_whole(settings, registered, tmp_path):
    client, version, _, _ = registered
    local = download_model(client, settings.model_name, version, str(tmp_path / "copy"))
    assert {"MLmodel", "model.lgb"} <= {path.name for path in (tmp_path / "copy").rglob("*")}
    assert mlflow.lightgbm.load_model(local).feature_name() == FEATURE_NAMES
