"""Runs on Kubeflow Pipelines through kfp.Client, against a double of the KFP v2beta1 REST API.

No Kubeflow backend exists here: `tests.components.release.kfp_api` answers with the API's response
bodies transcribed from its reference (not recorded from a live server) and records every request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.config.kfp import kfp_client
from components.config.settings import Settings
from components.errors import DataError
from components.release import submit
from pipelines.compile import compile_training
from tests.components.release.kfp_api import KfpApiDouble

IMAGE = "ghcr.io/skillrank/skillrank:test"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return compile_training(tmp_path_factory.mktemp("ir") / "training.yaml", IMAGE)


@pytest.fixture
def api():
    with KfpApiDouble() as double:
        yield double


def settings_of(api: KfpApiDouble, **values) -> Settings:
    return Settings(kfp_host=api.url, data_root="/data", source="/export", **values)


def test_a_package_is_uploaded_once_per_content(api, package, tmp_path):
    client = kfp_client(settings_of(api))
    first = submit.upload_pipeline(client, package, "skillrank-training")
    again = submit.upload_pipeline(client, package, "skillrank-training")
    assert again == first
    assert len(api.requests("POST", "/pipelines/upload")) == 1
    assert not api.requests("POST", "/pipelines/upload_version")
    changed = tmp_path / "changed.yaml"
    changed.write_text(package.read_text().replace(IMAGE, IMAGE + "-2"))
    second = submit.upload_pipeline(client, changed, "skillrank-training")
    assert second.pipeline_id == first.pipeline_id and second.version_id != first.version_id
    assert second.version_name == submit.version_name("skillrank-training", changed)
    [upload] = api.requests("POST", "/pipelines/upload_version")
    assert upload.query["pipelineid"] == first.pipeline_id
    stored = api.state.versions[-1]["pipeline_spec"]
    assert stored["pipelineInfo"]["name"] == "skillrank-training"  # the compiled spec went up


def test_a_missing_package_is_a_data_error(api, tmp_path):
    with pytest.raises(DataError, match="skillrank compile"):
        submit.upload_pipeline(kfp_client(settings_of(api)), tmp_path / "nope.yaml", "skillrank-training")


def test_latest_version_needs_the_pipeline_uploaded(api, package):
    client = kfp_client(settings_of(api))
    with pytest.raises(DataError, match="skillrank submit"):
        submit.latest_version(client, "skillrank-training")
    ref = submit.upload_pipeline(client, package, "skillrank-training")
    assert submit.latest_version(client, "skillrank-training") == ref


def test_a_run_gets_the_training_arguments_and_a_second_submit_finds_it(api, package):
    settings = settings_of(api)
    client = kfp_client(settings)
    ref = submit.upload_pipeline(client, package, "skillrank-training")
    experiment = submit.experiment_id(client, settings)
    run = submit.submit_run(client, experiment, ref, "retrain-x", submit.training_arguments(settings))
    assert run.created and run.state == "PENDING"
    [created] = api.requests("POST", "/runs")
    assert created.body["display_name"] == "retrain-x" and created.body["experiment_id"] == experiment
    assert created.body["pipeline_version_reference"] == {
        "pipeline_id": ref.pipeline_id,
        "pipeline_version_id": ref.version_id,
    }
    assert created.body["runtime_config"]["parameters"] == {
        "source": "/export",
        "data_root": "/data",
        "config_file": "",
    }
    again = submit.submit_run(client, experiment, ref, "retrain-x", submit.training_arguments(settings))
    assert (again.run_id, again.created) == (run.run_id, False)
    assert len(api.requests("POST", "/runs")) == 1
    assert [r.run_id for r in submit.active_runs(client, experiment, ref.pipeline_id)] == [run.run_id]


def test_a_finished_run_is_not_active(api, package):
    settings = settings_of(api)
    client = kfp_client(settings)
    ref = submit.upload_pipeline(client, package, "skillrank-training")
    experiment = submit.experiment_id(client, settings)
    submit.submit_run(client, experiment, ref, "done", {})
    api.state.runs[-1]["state"] = "SUCCEEDED"
    assert submit.active_runs(client, experiment, ref.pipeline_id) == []


def test_the_recurring_run_is_created_once_and_replaced_when_its_version_changes(api, package, tmp_path):
    settings = settings_of(api)
    client = kfp_client(settings)
    ref = submit.upload_pipeline(client, package, "skillrank-training")
    experiment = submit.experiment_id(client, settings)
    weekly = settings.kfp_training_cron
    made = submit.ensure_recurring_run(client, experiment, ref, "skillrank-training-recurring", weekly, {})
    kept = submit.ensure_recurring_run(client, experiment, ref, "skillrank-training-recurring", weekly, {})
    assert made.created and not kept.created and kept.run_id == made.run_id
    [created] = api.requests("POST", "/recurringruns")
    assert created.body["trigger"] == {"cron_schedule": {"cron": "0 0 4 * * 1"}}
    assert created.body["max_concurrency"] == 1 and created.body["no_catchup"] is True
    changed = tmp_path / "changed.yaml"
    changed.write_text(package.read_text().replace(IMAGE, IMAGE + "-2"))
    newer = submit.upload_pipeline(client, changed, "skillrank-training")
    replaced = submit.ensure_recurring_run(
        client, experiment, newer, "skillrank-training-recurring", weekly, {}
    )
    assert replaced.created and replaced.run_id != made.run_id
    assert [r.path.rsplit("/", 1)[-1] for r in api.requests("DELETE", f"/recurringruns/{made.run_id}")] == [
        made.run_id
    ]
    assert [r["recurring_run_id"] for r in api.state.recurring_runs] == [replaced.run_id]


def test_training_arguments_need_a_source():
    with pytest.raises(DataError, match="SKILLRANK_SOURCE"):
        submit.training_arguments(Settings(data_root="/data"))


def test_skillrank_submit_uploads_and_creates_a_run(api, package, capsys, monkeypatch, tmp_path):
    from pipelines.cli import main

    monkeypatch.setenv("SKILLRANK_KFP_HOST", api.url)
    argv = ["--data-root", str(tmp_path), "submit", "--package", str(package), "--source", "/export"]
    assert main([*argv, "--run-name", "by-hand"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("\n{") :])  # after kfp's own "... details: <link>" lines
    assert printed["pipeline"] == "skillrank-training" and printed["created"] is True
    [run] = api.state.runs
    assert run["display_name"] == "by-hand"
    assert run["runtime_config"]["parameters"]["source"] == "/export"
    assert main([*argv, "--recurring"]) == 0
    [recurring] = api.state.recurring_runs
    assert recurring["display_name"] == "skillrank-training-recurring"
    assert len(api.requests("POST", "/pipelines/upload")) == 1  # the second submit found the version
