"""What the pipeline's KFP artifacts hold: table manifests, copies of small tables, registered models."""

import json

import mlflow
import pandas as pd
import pytest

from components.artifacts import (
    clean_manifest,
    copied_table,
    model_artifact,
    reconciliation_metrics,
    table_manifest,
)
from components.config import registry
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.config.tracking import use_experiment
from tests.mlflow_globals import Elsewhere
from tests.serving_world import FEATURE_NAMES, make_features, train_booster

RECONCILIATION = {
    "accounts": {"input": 4, "clean": 4, "quarantined": 0, "reasons": {}},
    "trades": {"input": 10, "clean": 8, "quarantined": 2, "reasons": {"duplicate": 2}},
}


@pytest.fixture
def table(tmp_path):
    """A Parquet table of two parts, as the Spark job writes them."""
    location = tmp_path / "root" / "features"
    location.mkdir(parents=True)
    pd.DataFrame({"account_id": ["a", "b"]}).to_parquet(location / "part-0.parquet")
    pd.DataFrame({"account_id": ["c"]}).to_parquet(location / "part-1.parquet")
    return location


def test_a_table_manifest_names_the_table_and_counts_its_rows(tmp_path, table):
    path = tmp_path / "artifact"
    manifest = table_manifest(str(path), table, accounts=3)
    assert manifest == {"location": str(table), "rows": 3, "accounts": 3}
    assert json.loads(path.read_text()) == manifest


def test_the_clean_manifest_has_each_table_and_its_clean_rows(tmp_path):
    layout = DataLayout(tmp_path)
    manifest = clean_manifest(str(tmp_path / "artifact"), layout, RECONCILIATION)
    assert manifest["location"] == str(tmp_path / "clean")
    assert (manifest["trades_rows"], manifest["trades_location"]) == (8, str(layout.clean("trades")))
    assert json.loads((tmp_path / "artifact").read_text()) == manifest


def test_reconciliation_becomes_flat_metrics():
    metrics = reconciliation_metrics(RECONCILIATION)
    assert metrics["trades_input"] == metrics["trades_clean"] + metrics["trades_quarantined"] == 10
    assert len(metrics) == 6


def test_a_small_table_is_copied_into_its_artifact(tmp_path, table):
    path = tmp_path / "artifact"
    metadata = copied_table(str(path), table, as_of_dates=1)
    assert metadata == {"location": str(table), "rows": 3, "as_of_dates": 1}
    assert len(pd.read_parquet(path)) == 3


def test_a_model_artifact_is_the_registered_version_loadable_from_its_path(tmp_path, monkeypatch):
    elsewhere = Elsewhere(tmp_path / "elsewhere.db", monkeypatch)
    settings = Settings(data_root=tmp_path / "root")
    features = make_features(30)
    booster = train_booster(features)
    tracking = use_experiment(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id):
        mlflow.lightgbm.log_model(
            booster, name=registry.MODEL_ARTIFACT, registered_model_name=settings.model_name
        )
    elsewhere.point()
    path = tmp_path / "model-artifact"
    metadata = model_artifact(tracking.client, settings.model_name, "1", str(path), alias=registry.CHAMPION)
    assert metadata == {
        "model_name": "skillrank",
        "version": "1",
        "uri": "models:/skillrank/1",
        "alias": "champion",
    }
    loaded = mlflow.lightgbm.load_model(str(path))
    assert list(loaded.predict(features[FEATURE_NAMES])) == list(booster.predict(features[FEATURE_NAMES]))
    assert not elsewhere.used
