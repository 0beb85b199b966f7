"""The monitoring job on the tiny served world: every step, its files, its MLflow runs, its report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from components.config.tracking import mlflow_client
from components.errors import DataError
from monitoring import tracking
from monitoring.job import drift_columns, monitoring_file, run_monitor
from tests.mlflow_globals import Elsewhere


@pytest.fixture(scope="module")
def monitored(world, tmp_path_factory):
    """The served world's registry (read for the model, written for monitoring runs), features under a
    data root of this module, the policy tuned to fire on this world's small month-to-month drift."""
    root = tmp_path_factory.mktemp("monitored")
    settings = world.settings.model_copy(
        update={
            "data_root": root,
            "mlflow_tracking_uri": world.settings.mlflow_uri,
            "drift_windows": 1,
            "drift_features": "sharpe_12m,volatility_12m,hhi",  # the world moves the first two a little
            "drift_threshold": 1e-9,  # so little that only this threshold sees it: the drift rule fires
            "retrain_trigger": "none",
        }
    )
    settings.layout.features.mkdir(parents=True)
    world.features.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    (settings.layout.feast_dir).mkdir(parents=True)
    for name in ("registry.db", "online.db"):  # the world's Feast store, for scoring its windows
        (settings.layout.feast_dir / name).write_bytes((world.settings.layout.feast_dir / name).read_bytes())
    client = mlflow_client(settings)
    return settings, client, run_monitor(settings, client)


def test_the_job_monitors_the_served_version_through_the_client(world, monitored, tmp_path, monkeypatch):
    settings, client, outcome = monitored
    assert outcome.decision.model_version == world.model_version
    assert outcome.decision.window == "2021-06-30"  # no training end recorded: the latest date
    served = json.loads(monitoring_file(settings, "served").read_text())
    assert served["windows"] == ["2021-06-30"] and served["train_end"].startswith("2021-06-30")
    elsewhere = Elsewhere(tmp_path / "elsewhere.db", monkeypatch)
    run_monitor(settings, client, version=world.model_version, trigger=False)
    assert not elsewhere.used  # no global tracking URI was read


def test_the_decision_says_which_rule_fired_and_the_trigger_recorded_it(monitored):
    settings, _, outcome = monitored
    assert outcome.decision.retrain is True and outcome.decision.rules_fired == ["drift"]
    assert list(outcome.decision.drifted_columns) == ["sharpe_12m", "volatility_12m"]  # hhi did not move
    assert outcome.trigger.mode == "none" and not outcome.trigger.launched
    written = json.loads(monitoring_file(settings, "decision").read_text())
    assert written["decision_id"] == f"skillrank-v{outcome.decision.model_version}-2021-06-30"


def test_the_record_is_the_served_models_scores_of_the_window(world, monitored):
    settings, _, _ = monitored
    record = pd.read_parquet(monitoring_file(settings, "record"))
    assert set(record["source"]) == {"scored"}  # no log, no scores/: scored with the served model
    assert len(record) == len(world.latest) and record["rank"].tolist() == list(range(1, len(record) + 1))


def test_every_series_is_written_and_missing_labels_leave_the_quality_unknown(monitored):
    settings, _, _ = monitored
    series = pd.read_parquet(monitoring_file(settings, "series"))
    assert series["as_of_date"].tolist() == [pd.Timestamp("2021-06-30")]
    assert series["top_k_excess_1d"].isna().all() and series["realised_ic"].isna().all()  # no labels/
    assert series["top10_churn"].isna().all()  # one served window: no window before it to churn from
    drift = json.loads(monitoring_file(settings, "drift").read_text())
    assert drift[0]["score_psi"] is not None and drift[0]["drifted"] is True


def test_one_monitoring_run_per_window_linked_to_the_model_version(world, monitored):
    settings, client, outcome = monitored
    experiment = tracking.monitoring_experiment(client, settings)
    runs = client.search_runs([experiment])
    assert [run.data.tags[tracking.TAG_WINDOW] for run in runs] == ["2021-06-30"]  # two monitor runs, one run
    [run] = runs
    assert run.data.tags[tracking.TAG_VERSION] == world.model_version
    assert run.data.tags["retrain"] == "True" and run.data.tags["rules_fired"] == "drift"
    assert "drifted_share" in run.data.metrics and "score_psi" in run.data.metrics
    version = client.get_model_version(settings.model_name, world.model_version)
    assert version.tags[tracking.TAG_LATEST_MONITORING_RUN] == run.info.run_id
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"decision.json", "monitoring_report.html"} <= artifacts


def test_the_report_plots_every_series_and_links_the_drift_report(monitored):
    settings, _, outcome = monitored
    html = outcome.report.read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "Proxy labels" in html and "Top-10 churn" in html and 'href="../drift/drift_report.html"' in html
    assert "RETRAIN" in html and (settings.layout.drift_reports / "drift_report.html").exists()


def test_an_unknown_drift_feature_is_named(monitored):
    settings, _, _ = monitored
    with pytest.raises(DataError, match="diversification"):
        drift_columns(settings.model_copy(update={"drift_features": "hhi,diversification"}))


def test_skillrank_monitor_prints_the_decision_and_the_report(monitored, tmp_path, capsys):
    import yaml

    from pipelines.cli import main

    settings, _, _ = monitored
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_none=True)))
    argv = ["--config", str(config), "--data-root", str(settings.data_root), "monitor", "--until-retrain"]
    assert main([*argv, "--no-trigger"]) == 0
    out = capsys.readouterr().out
    decision = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert decision["retrain"] is True and decision["rules_fired"] == ["drift"]
    assert out.rstrip().endswith(f"report: {settings.layout.monitoring_reports / 'monitoring_report.html'}")
    assert "trigger (" not in out  # --no-trigger: nothing launched, nothing said about it
