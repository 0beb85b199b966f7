"""The training pipeline compiles to IR YAML that kfp loads back: typed artifacts hand each step the
previous step's output (the lineage the Kubeflow UI shows), `.after` orders the rest, and the gate is
a condition. Every step runs the one image, with kfp already in it, never from KFP's cache, with CPU
and memory requests and limits, as the non-root user Pod Security "restricted" wants."""

import re

import pytest
import yaml
from kfp import components

from components.errors import DataError
from pipelines.compile import compile_training, default_image, kustomize_image
from pipelines.training import PIPELINE_NAME, RUN_AS, STEP_RESOURCES

STEP_PARAMETERS = {"source", "data_root", "config_file"}
# The names of the objects a run uses: run parameters with the manifests' names as defaults.
CLUSTER_PARAMETERS = {"data_volume", "export_volume", "config_map", "postgres_secret", "redis_secret"}
PIPELINE_PARAMETERS = STEP_PARAMETERS | CLUSTER_PARAMETERS
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
            assert set(component["inputDefinitions"]["parameters"]) <= STEP_PARAMETERS, name
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


# --- how each step runs -------------------------------------------------------------------------------


def executors(spec: dict) -> dict[str, dict]:
    return {name: e["container"] for name, e in spec["deploymentSpec"]["executors"].items()}


def test_every_step_runs_the_image_the_manifests_name(spec):
    assert {c["image"] for c in executors(spec).values()} == {kustomize_image()}


def test_image_flag_sets_every_step_and_nothing_else(tmp_path):
    package = compile_training(tmp_path / "p.yaml", image="registry.example.com/skillrank@sha256:" + "0" * 64)
    [spec, _] = yaml.safe_load_all(package.read_text())
    assert {c["image"] for c in executors(spec).values()} == {
        "registry.example.com/skillrank@sha256:" + "0" * 64
    }
    assert package.read_text().startswith("# PIPELINE DEFINITION\n# Name: skillrank-training\n")
    assert components.load_component_from_file(str(package)).name == PIPELINE_NAME


def test_the_default_image_is_the_manifests_and_a_different_setting_is_an_error(tmp_path):
    assert default_image() == default_image(kustomize_image()) == kustomize_image()
    with pytest.raises(DataError, match="kustomize edit set image"):
        default_image("registry.example.com/skillrank:other")
    with pytest.raises(DataError, match="SKILLRANK_IMAGE is not set"):
        default_image(None, tmp_path / "no-repository" / "kustomization.yaml")


def test_no_step_installs_kfp_at_start(spec):
    for name, container in executors(spec).items():
        assert not any("pip install" in part for part in container["command"]), name


def test_no_step_is_served_from_the_cache(spec):
    def walk(dag: dict):
        for name, task in dag["tasks"].items():
            component = spec["components"][task["componentRef"]["name"]]
            if "dag" in component:
                yield from walk(component["dag"])
            else:
                yield name, task

    steps = dict(walk(spec["root"]["dag"]))
    assert len(steps) == 12
    for name, task in steps.items():
        assert task["cachingOptions"].get("enableCache", False) is False, name


def test_every_step_asks_for_cpu_and_memory_within_limits(spec):
    steps = {name for name, c in spec["components"].items() if "executorLabel" in c}
    assert set(STEP_RESOURCES) == {re.sub(r"^comp-|-\d+$", "", name) for name in steps}  # scores-op-2 too
    for name, container in executors(spec).items():
        # KFP writes each quantity as given and as a number: cores, and GB (10**9 bytes).
        resources = container["resources"]
        assert 0 < resources["cpuRequest"] <= resources["cpuLimit"], name
        assert 0 < resources["memoryRequest"] <= resources["memoryLimit"], name
    train = executors(spec)["exec-train-op"]["resources"]
    assert train["memoryRequest"] > 5  # training peaks above 5 GB on a 20,000-account world


def test_every_step_runs_as_the_images_non_root_user(tmp_path):
    package = compile_training(tmp_path / "p.yaml")
    [_, platform] = yaml.safe_load_all(package.read_text())
    for name, config in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items():
        context = config["securityContext"]
        assert (int(context["runAsUser"]), int(context["runAsGroup"]), context["runAsNonRoot"]) == (
            RUN_AS,
            RUN_AS,
            True,
        ), name
