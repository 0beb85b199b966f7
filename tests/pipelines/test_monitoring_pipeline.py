"""The monitoring pipeline compiles to IR YAML that kfp loads back, with the trigger under the decision's
condition; and it runs with the KFP local runner, where the trigger runs when the decision says retrain."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from kfp import components, local

from pipelines.compile import compile_monitoring
from pipelines.monitoring import PIPELINE_NAME, STEP_RESOURCES, monitoring_pipeline

IMAGE = "ghcr.io/skillrank/skillrank:test"
ARTIFACT, HTML, DATASET = "system.Artifact", "system.HTML", "system.Dataset"
ARTIFACTS = {
    "comp-record-op": ({}, {"record": DATASET}),
    "comp-drift-op": ({"record": DATASET}, {"drift": ARTIFACT, "report": HTML, "metrics": "system.Metrics"}),
    "comp-series-op": ({"record": DATASET}, {"series": ARTIFACT, "plot": HTML}),
    "comp-decide-op": (
        {"drift": ARTIFACT, "proxy": ARTIFACT, "realised": ARTIFACT, "churn": ARTIFACT},
        {"decision": ARTIFACT, "report": HTML},
    ),
    "comp-trigger-op": ({"decision": ARTIFACT}, {"outcome": ARTIFACT}),
}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return compile_monitoring(tmp_path_factory.mktemp("ir") / "monitoring.yaml", IMAGE)


@pytest.fixture(scope="module")
def spec(package):
    return next(yaml.safe_load_all(package.read_text()))


def test_compiles_and_loads_back(package):
    loaded = components.load_component_from_file(str(package))
    assert loaded.name == PIPELINE_NAME
    assert {"data_root", "config_file", "source", "until_retrain"} <= set(loaded.component_spec.inputs)


def test_the_trigger_runs_only_when_the_decision_says_retrain(spec):
    root = spec["root"]["dag"]["tasks"]
    [branch] = [task for task in root.values() if task["componentRef"]["name"].startswith("comp-condition")]
    assert (
        branch["triggerPolicy"]["condition"]
        == "inputs.parameter_values['pipelinechannel--decide-op-Output'] == true"
    )
    inside = spec["components"][branch["componentRef"]["name"]]["dag"]["tasks"]
    assert list(inside) == ["trigger-op"]
    assert inside["trigger-op"]["inputs"]["artifacts"]["decision"] == {
        "componentInputArtifact": "pipelinechannel--decide-op-decision"
    }
    assert "trigger-op" not in root


def test_the_series_read_the_record_and_the_decision_reads_the_series(spec):
    root = spec["root"]["dag"]["tasks"]
    series = {name: task for name, task in root.items() if name.startswith("series-op")}
    for name in ["drift-op", *series]:
        assert (
            root[name]["inputs"]["artifacts"]["record"]["taskOutputArtifact"]["producerTask"] == "record-op"
        )
    # One component, three tasks: each named in the UI by the series it computes.
    shown = {
        task["taskInfo"]["name"]: task["inputs"]["parameters"]["series_name"]["runtimeValue"]["constant"]
        for task in series.values()
    }
    assert shown == {"proxy": "proxy", "realised": "realised", "churn": "churn"}
    producers = {
        key: root[source["taskOutputArtifact"]["producerTask"]]["taskInfo"]["name"]
        for key, source in root["decide-op"]["inputs"]["artifacts"].items()
    }
    assert producers == {"drift": "drift-op", "proxy": "proxy", "realised": "realised", "churn": "churn"}


def test_each_step_takes_and_gives_typed_artifacts(spec):
    for name, (inputs, outputs) in ARTIFACTS.items():
        component = spec["components"][name]
        typed = [
            {
                key: value["artifactType"]["schemaTitle"]
                for key, value in component.get(side, {}).get("artifacts", {}).items()
            }
            for side in ("inputDefinitions", "outputDefinitions")
        ]
        assert (typed[0], typed[1]) == (inputs, outputs), name
    assert spec["components"]["comp-decide-op"]["outputDefinitions"]["parameters"]["Output"] == {
        "parameterType": "BOOLEAN"
    }


def test_every_step_runs_the_project_image_uncached_with_its_size(spec, package):
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    # A component used again gets its executor a suffix (series-op-2): each is sized as its component.
    assert {re.sub(r"-\d+$", "", name.removeprefix("exec-")) for name in executors} == set(STEP_RESOURCES)
    tasks = dict(spec["root"]["dag"]["tasks"])
    tasks |= spec["components"]["comp-condition-1"]["dag"]["tasks"]
    steps = {name: task for name, task in tasks.items() if "-op" in name}
    assert len(steps) == len(STEP_RESOURCES) + 2  # the series component runs three times
    assert all(task["cachingOptions"] == {} for task in steps.values())  # caching off: no enableCache
    platform = list(yaml.safe_load_all(package.read_text()))[1]["platforms"]["kubernetes"]["deploymentSpec"]
    mounted = {name: config["pvcMount"][0]["mountPath"] for name, config in platform["executors"].items()}
    assert set(mounted.values()) == {"/data"} and set(mounted) == set(executors)


@pytest.mark.e2e
def test_the_pipeline_runs_locally_and_triggers_when_the_decision_says_retrain(world, tmp_path):
    root = tmp_path / "root"
    settings = world.settings.model_copy(
        update={
            "data_root": root,
            "mlflow_tracking_uri": world.settings.mlflow_uri,
            "drift_windows": 1,
            "drift_features": "sharpe_12m,volatility_12m,hhi",
            "drift_threshold": 1e-9,
            "retrain_trigger": "none",
        }
    )
    settings.layout.features.mkdir(parents=True)
    world.features.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    settings.layout.feast_dir.mkdir(parents=True)
    for name in ("registry.db", "online.db"):
        (settings.layout.feast_dir / name).write_bytes((world.settings.layout.feast_dir / name).read_bytes())
    config = root / "settings.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_none=True)))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    monitoring_pipeline(data_root=str(root), config_file=str(config))
    decision = json.loads((settings.layout.monitoring / "decision.json").read_text())
    assert decision["retrain"] is True and decision["rules_fired"] == ["drift"]
    [outcome] = [
        json.loads(line) for line in (settings.layout.monitoring / "triggers.jsonl").read_text().splitlines()
    ]
    assert outcome["decision_id"] == decision["decision_id"] and outcome["mode"] == "none"
    assert (settings.layout.monitoring_reports / "monitoring_report.html").exists()
