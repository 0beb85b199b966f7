"""What a retrain decision launches: the mode, the lock, once per served version, and the KFP run
(against the double of the KFP v2beta1 API in tests.components.release.kfp_api: no Kubeflow here)."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow import MlflowClient

from components.config.settings import Settings
from components.errors import DataError
from components.release import submit
from components.release.lock import training_lock
from monitoring.decision import Decision
from monitoring.trigger import (
    TRIGGERS,
    launch_kfp,
    read_outcomes,
    retrain_command,
    trigger_mode,
    trigger_retrain,
    write_retrain_settings,
)
from pipelines.compile import compile_training
from tests.components.release.kfp_api import KfpApiDouble


def decision(retrain: bool = True, window: str = "2021-06-30", version: str = "3") -> Decision:
    fired = ["drift"] if retrain else []
    return Decision(
        window, "skillrank", version, retrain, fired, ["drift persisted"] if retrain else [], {}, {}
    )


def settings_at(tmp_path, **values) -> Settings:
    return Settings(data_root=tmp_path / "root", source=tmp_path / "export", **values)


@pytest.fixture
def client(tmp_path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")


def test_auto_is_kfp_inside_a_pod_and_local_elsewhere(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert trigger_mode(Settings()) == "local"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert trigger_mode(Settings()) == "kfp"
    assert trigger_mode(Settings(retrain_trigger="none")) == "none"


def test_a_decision_that_keeps_the_model_launches_nothing_and_is_recorded(tmp_path, client):
    settings = settings_at(tmp_path, retrain_trigger="local")
    outcome = trigger_retrain(settings, decision(retrain=False), client)
    assert not outcome.launched and outcome.reason == "the decision keeps the served model"
    [recorded] = read_outcomes(settings.layout.monitoring / TRIGGERS)
    assert recorded["decision_id"] == "skillrank-v3-2021-06-30" and recorded["model_version"] == "3"


def test_trigger_none_records_the_decision_only(tmp_path, client):
    outcome = trigger_retrain(settings_at(tmp_path, retrain_trigger="none"), decision(), client)
    assert (outcome.mode, outcome.launched) == ("none", False)


def test_a_running_training_holds_the_lock_and_a_second_decision_does_not_start_another(tmp_path, client):
    settings = settings_at(tmp_path, retrain_trigger="local")
    with training_lock(settings.layout.training_lock, "skillrank-v3-2021-05-31"):
        outcome = trigger_retrain(settings, decision(), client)
    assert not outcome.launched
    assert "a training is running already" in outcome.reason and "skillrank-v3-2021-05-31" in outcome.reason


def test_a_failed_retrain_says_so_with_its_exit_code(tmp_path, client):
    settings = settings_at(tmp_path, retrain_trigger="local")  # the source does not exist: exit 2
    outcome = trigger_retrain(settings, decision(), client)
    assert outcome.launched and outcome.exit_code == 2
    assert outcome.reason == "skillrank run failed (exit 2)"


def test_a_served_version_is_retrained_once_per_schedule_period(tmp_path, client):
    settings = settings_at(tmp_path, retrain_trigger="local")
    trigger_retrain(settings, decision(window="2021-05-31"), client)  # launched (and failed)
    later = trigger_retrain(settings, decision(window="2021-06-30"), client)
    assert not later.launched
    assert later.reason.startswith("v3 was retrained already, for skillrank-v3-2021-05-31 at ")
    other = trigger_retrain(settings, decision(window="2021-06-30", version="4"), client)
    assert other.launched  # a new champion is a new streak


def test_a_retrain_needs_the_source(tmp_path, client):
    settings = Settings(data_root=tmp_path, retrain_trigger="local")
    with pytest.raises(DataError, match="SKILLRANK_SOURCE"):
        trigger_retrain(settings, decision(), client)


def test_the_retrain_runs_skillrank_run_on_the_source_with_the_settings_but_no_secret(tmp_path):
    settings = settings_at(tmp_path, kfp_token="s3cret", n_estimators=40)
    config = write_retrain_settings(settings)
    command = retrain_command(settings, config)
    assert command[0].endswith("skillrank")
    assert command[1:] == [
        "--data-root",
        str(settings.data_root.resolve()),
        "--config",
        str(config),
        "run",
        "--source",
        str((tmp_path / "export").resolve()),
    ]
    written = yaml.safe_load(config.read_text())
    assert written["n_estimators"] == 40 and "kfp_token" not in written
    assert Settings.load(config).n_estimators == 40  # the file is a settings file


@pytest.fixture
def kfp(tmp_path):
    with KfpApiDouble() as api:
        settings = Settings(
            data_root="/data",
            source="/export",
            retrain_trigger="kfp",
            kfp_host=api.url,
            kfp_namespace="team-a",
        )
        from components.config.kfp import kfp_client

        submit.upload_pipeline(
            kfp_client(settings), compile_training(tmp_path / "t.yaml", "img:1"), "skillrank-training"
        )
        yield api, settings


def test_in_a_cluster_the_decision_creates_a_run_named_for_it_once(kfp):
    api, settings = kfp
    first = launch_kfp(settings, decision())
    assert first.launched and first.reason == "KFP run retrain-skillrank-v3-2021-06-30 created"
    [run] = api.state.runs
    assert run["runtime_config"]["parameters"] == {
        "source": "/export",
        "data_root": "/data",
        "config_file": "",
    }
    again = launch_kfp(settings, decision())
    assert not again.launched and again.run_id == first.run_id
    assert len(api.requests("POST", "/runs")) == 1


def test_in_a_cluster_no_second_training_starts_while_one_runs(kfp):
    api, settings = kfp
    launch_kfp(settings, decision(window="2021-05-31"))
    busy = launch_kfp(settings, decision(window="2021-06-30"))
    assert not busy.launched
    assert (
        busy.reason
        == "training run retrain-skillrank-v3-2021-05-31 (PENDING) is not done: not starting a second one"
    )
    api.state.runs[0]["state"] = "SUCCEEDED"
    assert launch_kfp(settings, decision(window="2021-06-30")).launched


def test_the_cluster_trigger_records_its_outcome(kfp, tmp_path, client):
    api, settings = kfp
    settings = settings.model_copy(update={"data_root": tmp_path / "root"})
    outcome = trigger_retrain(settings, decision(), client)
    assert outcome.mode == "kfp" and outcome.launched
    recorded = json.loads((settings.layout.monitoring / TRIGGERS).read_text().splitlines()[-1])
    assert recorded["run_id"] == api.state.runs[0]["run_id"]
