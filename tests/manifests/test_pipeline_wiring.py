"""The compiled pipeline and the manifests agree on the volume, the ConfigMap keys and the Secret."""

import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines import training
from pipelines.compile import compile_training

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered():
    try:
        out = subprocess.run(
            ["kubectl", "kustomize", str(ROOT)], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        pytest.skip("kubectl is not on PATH: cannot render the manifests")
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


def test_pipeline_reads_only_keys_the_config_map_has(rendered):
    assert set(training.CONFIG_KEYS) <= set(rendered[("ConfigMap", training.CONFIG_MAP)]["data"])


def test_pipeline_volume_and_secret_exist(rendered):
    assert ("PersistentVolumeClaim", training.DATA_VOLUME) in rendered
    assert "password" in rendered[("Secret", training.SECRET)]["data"]


def test_every_step_mounts_the_data_volume(tmp_path):
    spec = list(yaml.safe_load_all(compile_training(tmp_path / "p.yaml").read_text()))
    platform = spec[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    executors = spec[0]["deploymentSpec"]["executors"]
    assert set(platform) == set(executors)
    for config in platform.values():
        assert config["pvcMount"][0]["mountPath"] == training.DATA_MOUNT


def test_the_tables_a_dataset_artifact_names_are_on_the_volume_every_step_mounts(rendered, tmp_path):
    # A Dataset artifact carries a manifest of a table in the data root, not the table: the producer and
    # every consumer must see the same data root, the shared volume.
    assert rendered[("ConfigMap", training.CONFIG_MAP)]["data"]["SKILLRANK_DATA_ROOT"] == training.DATA_MOUNT
    spec = list(yaml.safe_load_all(compile_training(tmp_path / "p.yaml").read_text()))
    platform = spec[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for component in spec[0]["components"].values():
        if "executorLabel" not in component:
            continue
        artifacts = [
            value["artifactType"]["schemaTitle"]
            for side in ("inputDefinitions", "outputDefinitions")
            for value in component.get(side, {}).get("artifacts", {}).values()
        ]
        if "system.Dataset" in artifacts:
            mount = platform[component["executorLabel"]]["pvcMount"][0]
            assert (mount["constant"], mount["mountPath"]) == (training.DATA_VOLUME, training.DATA_MOUNT)
