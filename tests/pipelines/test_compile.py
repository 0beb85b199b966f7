"""The training pipeline compiles to IR YAML that kfp loads back: typed artifacts hand each step the
previous step's output (the lineage the Kubeflow UI shows), `.after` orders the rest, and the gate is
a condition."""

import pytest
import yaml
from kfp import components

from pipelines.compile import compile_training
from pipelines.training import PIPELINE_NAME

PIPELINE_PARAMETERS = {"source", "data_root", "config_file"}
DATASET, MODEL, ARTIFACT = "system.Dataset", "system.Model", "system.Artifact"
# Each step's input and output artifacts, by name and type.
ARTIFACTS = {
    "comp-ingest-op": ({}, {"clean": DATASET, "reconciliation": "system.Metrics"}),
    "comp-features-op": ({"clean": DATASET}, {"features": DATASET, "labels": DATASET}),
    "comp-publish-op": ({"features": DATASET}, {"candidates": DATASET}),
    "comp-train-op": (
        {"features": DATASET, "labels": DATASET},
        {
            "model": MODEL,
            "outcome": ARTIFACT,
            "predictions": DATASET,
            "metrics": "system.Metrics",
            "evaluation": "system.HTML",
        },
    ),
    "comp-gate-op": ({"outcome": ARTIFACT}, {"verdict": "system.Markdown"}),
    "comp-promote-op": ({"model": MODEL}, {"champion": MODEL}),
    "comp-deploy-op": ({"champion": MODEL}, {"deployment": ARTIFACT}),
    "comp-served-model-op": ({}, {"served": MODEL}),
    "comp-scores-op": ({"features": DATASET, "predictions": DATASET, "served": MODEL}, {"scores": DATASET}),
    "comp-monitor-op": ({"features": DATASET, "served": MODEL}, {"report": "system.HTML"}),
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return next(
        yaml.safe_load_all(compile_training(tmp_path_factory.mktemp("ir") / "pipeline.yaml").read_text())
    )


def tasks(spec: dict) -> dict[str, dict]:
    """Every executor task of the pipeline, in every branch, by task name, with where its artifacts come from.

    ``sources`` maps each input artifact to its (producer task, output key), followed through the
    branches' inputs; ``after`` is the set of tasks it waits for.
    """
    found = {}

    def walk(dag: dict, channels: dict[str, tuple[str, str]]) -> None:
        for name, task in dag["tasks"].items():
            sources = {}
            for key, source in task.get("inputs", {}).get("artifacts", {}).items():
                if "taskOutputArtifact" in source:
                    output = source["taskOutputArtifact"]
                    sources[key] = (output["producerTask"], output["outputArtifactKey"])
                else:
                    sources[key] = channels[source["componentInputArtifact"]]
            component = task["componentRef"]["name"]
            if "dag" in spec["components"][component]:  # a branch: its inputs are channels of its tasks
                walk(spec["components"][component]["dag"], sources)
            else:
                found[name] = task | {"sources": sources, "after": set(task.get("dependentTasks", []))}

    walk(spec["root"]["dag"], {})
    return found


def test_compiles_and_loads_back(spec, tmp_path):
    loaded = components.load_component_from_file(str(compile_training(tmp_path / "pipeline.yaml")))
    assert loaded.name == PIPELINE_NAME
    assert set(loaded.component_spec.inputs) == PIPELINE_PARAMETERS


def test_gate_branches_before_promotion(spec):
    components_ = spec["components"]
    branches = components_["comp-condition-branches-1"]["dag"]["tasks"]
    conditions = {
        task["componentRef"]["name"]: task["triggerPolicy"]["condition"] for task in branches.values()
    }
    assert len(conditions) == 2 and all("gate-op-Output" in c for c in conditions.values())
    promoting = {name for name in conditions if "promote-op" in components_[name]["dag"]["tasks"]}
    assert len(promoting) == 1
    assert not conditions[promoting.pop()].startswith("!")  # promotion only when the gate says true
    executors = spec["deploymentSpec"]["executors"]
    assert all(e["container"]["image"].startswith("ghcr.io/skillrank/skillrank") for e in executors.values())


def test_each_step_takes_and_gives_typed_artifacts(spec):
    for name, (inputs, outputs) in ARTIFACTS.items():
        component = spec["components"][name]
        typed = {
            side: {
                key: value["artifactType"]["schemaTitle"]
                for key, value in component.get(definitions, {}).get("artifacts", {}).items()
            }
            for side, definitions in (("in", "inputDefinitions"), ("out", "outputDefinitions"))
        }
        assert (typed["in"], typed["out"]) == (inputs, outputs), name


def test_no_step_has_a_parameter_that_only_forces_order(spec):
    for name, component in spec["components"].items():
        if "executorLabel" in component:  # a step, not a branch
            assert set(component["inputDefinitions"]["parameters"]) <= PIPELINE_PARAMETERS, name
    for name, task in tasks(spec).items():
        for key, value in task["inputs"].get("parameters", {}).items():
            assert "componentInputParameter" in value, (name, key)  # no literal, no other step's output


def test_lineage_links_the_clean_tables_to_the_monitor(spec):
    steps = tasks(spec)
    source = {name: step["sources"] for name, step in steps.items()}
    assert source["features-op"] == {"clean": ("ingest-op", "clean")}
    assert source["publish-op"] == {"features": ("features-op", "features")}
    assert source["train-op"] == {
        "features": ("features-op", "features"),
        "labels": ("features-op", "labels"),
    }
    assert source["gate-op"] == {"outcome": ("train-op", "outcome")}
    assert source["promote-op"] == {"model": ("train-op", "model")}
    assert source["deploy-op"] == {"champion": ("promote-op", "champion")}
    served = {"scores-op": "promote-op", "monitor-op": "promote-op"}  # the champion, once promoted
    served |= {"scores-op-2": "served-model-op", "monitor-op-2": "served-model-op"}  # the one that stays
    for name, producer in served.items():
        assert source[name]["served"] == (producer, "served" if producer == "served-model-op" else "champion")
        assert source[name]["features"] == ("features-op", "features")
    assert (
        source["scores-op"]["predictions"]
        == source["scores-op-2"]["predictions"]
        == ("train-op", "predictions")
    )


def test_after_orders_what_no_artifact_does(spec):
    steps = tasks(spec)
    assert "publish-op" in steps["train-op"]["after"]  # training reads the Feast registry publish applied
    assert "deploy-op" in steps["scores-op"]["after"]  # scores of the promoted champion after its roll-out
    assert "scores-op" in steps["monitor-op"]["after"] and "scores-op-2" in steps["monitor-op-2"]["after"]
