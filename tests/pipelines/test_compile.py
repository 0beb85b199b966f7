"""The training pipeline compiles to IR YAML that kfp loads back, with the gate as a condition."""

import yaml
from kfp import components

from pipelines.compile import compile_training
from pipelines.training import PIPELINE_NAME


def test_compiles_and_loads_back(tmp_path):
    path = compile_training(tmp_path / "pipeline.yaml")
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == PIPELINE_NAME
    assert set(loaded.component_spec.inputs) == {"source", "data_root", "config_file"}


def test_gate_branches_before_promotion(tmp_path):
    spec = next(yaml.safe_load_all(compile_training(tmp_path / "pipeline.yaml").read_text()))
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
