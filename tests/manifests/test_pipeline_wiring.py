"""The compiled pipeline and the manifests agree: on the volumes and where they are mounted, the ConfigMap
and its keys, the Secrets and the variables the ConfigMap's URLs name, the namespace, and the user.

The run parameters that name the objects default to what the manifests install; a test here fails when
either side renames one, or when the pipeline asks for a key, a Secret or a user the cluster lacks.
"""

import re

import pytest
import yaml

from pipelines import training
from pipelines.compile import compile_training
from tests.manifests.rendering import EXTERNAL_SECRETS, KUBECTL, OVERLAYS, REPO_ROOT, find, render

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")

REFERENCE = re.compile(r"\$\((\w+)\)")


@pytest.fixture(scope="module", params=list(OVERLAYS), ids=list(OVERLAYS))
def objects(request) -> list[dict]:
    return render(OVERLAYS[request.param])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[dict, dict, dict]:
    """(pipeline spec, Kubernetes config by executor, run parameter defaults) of the compiled pipeline."""
    spec, platform = yaml.safe_load_all(
        compile_training(tmp_path_factory.mktemp("ir") / "p.yaml").read_text()
    )
    defaults = {
        name: value.get("defaultValue")
        for name, value in spec["root"]["inputDefinitions"]["parameters"].items()
    }
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"], defaults


def named(reference: dict, defaults: dict) -> str:
    """The object a run uses by default, from a name given as a constant or as a run parameter."""
    if "componentInputParameter" in reference:
        return defaults[reference["componentInputParameter"].removeprefix("pipelinechannel--")]
    return reference["runtimeValue"]["constant"]


def config_map(objects: list[dict]) -> dict[str, str]:
    return find(objects, "ConfigMap", training.CONFIG_MAP)["data"]


def test_every_executor_is_wired(compiled):
    spec, platform, _ = compiled
    assert set(platform) == set(spec["deploymentSpec"]["executors"])


def test_pipeline_reads_only_keys_the_config_map_has(objects, compiled):
    _, platform, defaults = compiled
    for executor in platform.values():
        [source] = executor["configMapAsEnv"]
        data = find(objects, "ConfigMap", named(source["configMapNameParameter"], defaults))["data"]
        assert {entry["configMapKey"] for entry in source["keyToEnv"]} <= set(data)
    assert set(training.CONFIG_KEYS) <= set(config_map(objects))


def test_pipeline_reads_the_secrets_the_overlays_expect(objects, compiled):
    _, platform, defaults = compiled
    data = config_map(objects)
    referenced = {name for value in data.values() for name in REFERENCE.findall(value)}
    for label, executor in platform.items():
        read = {
            named(source["secretNameParameter"], defaults): {e["secretKey"] for e in source["keyToEnv"]}
            for source in executor["secretAsEnv"]
        }
        assert read == EXTERNAL_SECRETS, label  # neither more nor less than dev generates and prod brings
        variables = {e["envVar"] for source in executor["secretAsEnv"] for e in source["keyToEnv"]}
        assert variables == referenced, label  # exactly what the ConfigMap's URLs splice in


def test_steps_mount_the_volumes_of_the_manifests_where_the_settings_say(objects, compiled):
    _, platform, defaults = compiled
    data = config_map(objects)
    assert data["SKILLRANK_DATA_ROOT"] == training.DATA_MOUNT == defaults["data_root"]
    assert data["SKILLRANK_SOURCE"] == training.EXPORT_MOUNT
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    for label, executor in platform.items():
        mounts = {m["mountPath"]: named(m["pvcNameParameter"], defaults) for m in executor["pvcMount"]}
        assert mounts.get(training.DATA_MOUNT) == training.DATA_VOLUME, label
        assert set(mounts.values()) <= claims, label
        # Only ingest reads the platform's export.
        assert (training.EXPORT_MOUNT in mounts) is (label == "exec-ingest-op"), label
    assert training.EXPORT_VOLUME in claims


def test_each_step_reads_its_namespace_from_the_downward_api(objects, compiled):
    _, platform, _ = compiled
    assert "SKILLRANK_NAMESPACE" not in config_map(objects)
    for label, executor in platform.items():
        expected = [{"name": "SKILLRANK_NAMESPACE", "fieldPath": "metadata.namespace"}]
        assert executor["fieldPathAsEnv"] == expected, label


def test_steps_run_as_the_user_of_the_image_and_of_every_skillrank_pod(objects, compiled):
    _, platform, _ = compiled
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"USER {training.RUN_AS}:{training.RUN_AS}" in dockerfile
    contexts = {
        (context.get("runAsUser"), context.get("runAsGroup"))
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow"
        for context in [o["spec"]["template"]["spec"]["securityContext"]]
    }
    assert contexts == {(training.RUN_AS, training.RUN_AS)}
    for label, executor in platform.items():
        context = executor["securityContext"]
        assert (int(context["runAsUser"]), int(context["runAsGroup"])) == (training.RUN_AS, training.RUN_AS)
        assert context["runAsNonRoot"] is True, label


def test_the_tables_a_dataset_artifact_names_are_on_the_volume_every_step_mounts(compiled):
    # A Dataset artifact carries a manifest of a table in the data root, not the table: the producer and
    # every consumer must see the same data root, the shared volume.
    spec, platform, defaults = compiled
    for component in spec["components"].values():
        if "executorLabel" not in component:
            continue
        artifacts = [
            value["artifactType"]["schemaTitle"]
            for side in ("inputDefinitions", "outputDefinitions")
            for value in component.get(side, {}).get("artifacts", {}).values()
        ]
        if "system.Dataset" in artifacts:
            mounts = {
                m["mountPath"]: named(m["pvcNameParameter"], defaults)
                for m in platform[component["executorLabel"]]["pvcMount"]
            }
            assert mounts[training.DATA_MOUNT] == training.DATA_VOLUME
