"""The loop closed, end to end, on two seeded worlds that share their first two years.

A model is trained on the platform's export of 2018-12-31. A year passes. In the quiet world investors
go on as before: the monitor replays the thirteen windows the model served (2018-12-31 .. 2019-12-31)
and retrains at none. In the other world most investors concentrate into one stock at half their
leverage from 2019-06-03 (`WorldParams.regime_start`): the monitor names the shifted columns, the drift
rule fires once the drift has lasted three windows, and the trigger runs ``skillrank run`` (the training
pipeline with the KFP local runner, under the training lock), whose gate decides.

Run with ``pytest tests/monitoring/test_scenario.py -s`` to see the decision JSON and the quiet windows.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from components.config.settings import Settings
from components.config.tracking import mlflow_client
from components.features.spark import spark_session
from monitoring import tracking
from monitoring.job import monitoring_file, run_monitor
from tests.monitoring.worlds import export_as_of, refresh_features, simulate, train_in_process

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

ACCOUNTS, START, END, SEED = 400, date(2017, 1, 1), date(2019, 12, 31), 3
EXPORTED, REGIME = date(2018, 12, 31), date(2019, 6, 3)
# A small world: a few hundred accounts a window, where the normed Wasserstein distance of two samples
# of one distribution reaches 0.1 by chance; 0.2 is the threshold that suits the sample (the default,
# 0.1, suits a platform's thousands).
SMALL = dict(
    train_months=6,
    max_folds=3,
    n_estimators=40,
    objective="regression",
    top_k=10,
    gate_target="label",
    drift_threshold=0.2,
    retrain_trigger="local",
)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """The served model, then the quiet and the regime world's features a year later, in two data roots."""
    tmp = tmp_path_factory.mktemp("scenario")
    simulate(tmp / "quiet", ACCOUNTS, START, END, SEED)
    simulate(tmp / "regime", ACCOUNTS, START, END, SEED, regime_start=REGIME)
    export_as_of(tmp / "quiet", tmp / "export-2018", EXPORTED)
    trained = Settings(data_root=tmp / "regime-root", source=tmp / "export-2018", **SMALL)
    with spark_session("skillrank-scenario", master="local[2]", shuffle_partitions=2) as spark:
        version = train_in_process(trained, spark)
        shutil.copytree(trained.data_root, tmp / "quiet-root")
        quiet = trained.model_copy(update={"data_root": tmp / "quiet-root", "source": tmp / "quiet"})
        regime = trained.model_copy(update={"source": tmp / "regime"})
        refresh_features(quiet, spark)
        refresh_features(regime, spark)
    return version, quiet, regime


@pytest.fixture(scope="module")
def quiet_run(worlds):
    _, quiet, _ = worlds
    return run_monitor(quiet, mlflow_client(quiet), until_retrain=True)


@pytest.fixture(scope="module")
def regime_run(worlds):
    _, _, regime = worlds
    return run_monitor(regime, mlflow_client(regime), until_retrain=True)


def test_the_quiet_world_serves_thirteen_windows_and_retrains_at_none(worlds, quiet_run):
    version, quiet, _ = worlds
    windows = [d.window for d in quiet_run.decisions]
    assert windows == [str(d.date()) for d in pd.date_range("2018-12-31", "2019-12-31", freq="BME")]
    assert len(windows) >= 8 and not any(d.retrain for d in quiet_run.decisions)
    assert all(d.model_version == version for d in quiet_run.decisions)
    assert quiet_run.trigger.launched is False
    drift = pd.DataFrame(json.loads(monitoring_file(quiet, "drift").read_text()))
    print("\nquiet world:\n" + drift[["as_of_date", "drifted", "drifted_share", "score_psi"]].to_string())


def test_the_regime_change_is_detected_and_its_columns_named(regime_run):
    decision = regime_run.decision
    print("\nregime world decision:\n" + decision.to_json())
    assert decision.retrain is True and decision.rules_fired == ["drift"]
    assert decision.rules["drift"]["windows"][0] >= str(REGIME)  # every window of the streak is after it
    assert {"hhi", "n_tickers", "top3_share"} <= set(decision.drifted_columns)  # how investors diversify
    assert decision.drifted_columns["hhi"] > 0.5
    assert not any(d.retrain for d in regime_run.decisions[:-1])
    assert all(d.window < str(REGIME) for d in regime_run.decisions[:-3])


def test_the_retrain_ran_the_training_pipeline_and_its_gate_decided(worlds, regime_run):
    version, _, regime = worlds
    outcome = regime_run.trigger
    assert outcome.mode == "local" and outcome.launched and outcome.exit_code == 0
    assert outcome.new_version == str(int(version) + 1)
    assert outcome.gate_promote in (True, False)
    client = MlflowClient(regime.mlflow_uri)
    retrained = client.get_model_version(regime.model_name, outcome.new_version)
    assert client.get_run(retrained.run_id).data.tags["gate_promote"] == str(outcome.gate_promote)
    assert pd.Timestamp(retrained.tags["train_end"]) > pd.Timestamp(EXPORTED)  # it learned the new year


def test_the_decisions_report_is_kept_in_its_windows_mlflow_run(worlds, regime_run):
    _, _, regime = worlds
    client = MlflowClient(regime.mlflow_uri)
    experiment = tracking.monitoring_experiment(client, regime)
    [run] = client.search_runs([experiment], filter_string=f"tags.`{tracking.TAG_WINDOW}` = '2019-08-30'")
    assert run.data.tags["retrain"] == "True" and run.data.tags["rules_fired"] == "drift"
    assert run.data.metrics["drift_hhi"] > 0.5
    # The file under reports/ is the latest monitor's (the retrain's training pipeline ends with one);
    # the decision's own report stays with its run.
    text = Path(client.download_artifacts(run.info.run_id, "monitoring_report.html")).read_text()
    assert text.count("data:image/png;base64,") == 4
    assert "drift persisted over the last 3 windows" in text and "RETRAIN" in text
