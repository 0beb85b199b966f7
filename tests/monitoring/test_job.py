"""The monitoring job: which features it drift-tests, and the served version it reads through a client."""

from __future__ import annotations

import json

import pandas as pd

from components.config.tracking import mlflow_client
from monitoring.job import measurable, run_monitor
from tests.mlflow_globals import Elsewhere


def test_a_feature_without_values_in_either_window_is_left_out_and_named():
    reference = pd.DataFrame({"sharpe_12m": [0.1, 0.2], "spx_trend_12m": [None, None], "hhi": [0.5, None]})
    current = pd.DataFrame({"sharpe_12m": [0.3], "spx_trend_12m": [0.1], "hhi": [None]})
    measured, not_measured = measurable(reference, current, ["sharpe_12m", "spx_trend_12m", "hhi"])
    assert measured == ["sharpe_12m"]
    assert not_measured == ["spx_trend_12m", "hhi"]


def test_the_job_monitors_the_served_version_through_the_client(world, tmp_path, monkeypatch):
    elsewhere = Elsewhere(tmp_path / "elsewhere.db", monkeypatch)
    # The served world's registry, read only; features and reports under a data root of this test.
    settings = world.settings.model_copy(
        update={"data_root": tmp_path / "root", "mlflow_tracking_uri": world.settings.mlflow_uri}
    )
    settings.layout.features.mkdir(parents=True)
    world.features.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    client = mlflow_client(settings)
    decision, html = run_monitor(settings, client)
    summary = json.loads((html.parent / "decision.json").read_text())
    assert html.exists() and summary["retrain"] == decision.retrain
    assert summary["model_version"] == world.model_version  # the champion the feed serves
    assert summary["reference_end"] == "2021-06-30"  # no training end recorded: the latest date
    _, html_again = run_monitor(settings, client, version=world.model_version)
    assert html_again == html
    assert not elsewhere.used
