"""The kustomize manifests render, fit the Kubernetes and KServe API models, and refer to each other.

Every test runs on the repository root (what `kubectl apply -k .` installs) and on the local overlay.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import kserve.models
import kubernetes.client
import pytest
import yaml

from components.config.settings import Settings
from pipelines.cli import build_parser as skillrank_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
NAMESPACE = "skillrank"
TARGETS = {"root": REPO_ROOT, "local-overlay": REPO_ROOT / "manifests" / "overlays" / "local"}
EXPECTED = {
    ("Namespace", "skillrank"),
    ("ServiceAccount", "skillrank-pipeline"),
    ("Role", "skillrank-pipeline"),
    ("RoleBinding", "skillrank-pipeline"),
    ("ConfigMap", "skillrank-config"),
    ("ConfigMap", "postgres-init"),
    ("Secret", "skillrank-postgres"),
    ("PersistentVolumeClaim", "skillrank-data"),
    ("StatefulSet", "postgres"),
    ("Service", "postgres"),
    ("Deployment", "mlflow"),
    ("Service", "mlflow"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("InferenceService", "skillrank"),
    ("CronJob", "skillrank-features"),
    ("CronJob", "skillrank-monitor"),
}
CLUSTER_SCOPED = {"Namespace"}
# OpenAPI primitive type names (as the generated Python clients spell them) -> accepted YAML values.
PRIMITIVES = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
    "object": object,
    "date": str,
    "datetime": str,
}

pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl (with its built-in kustomize) is not on PATH: cannot render the manifests",
)


def render(target: Path) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` and parse every document."""
    result = subprocess.run(
        [KUBECTL, "kustomize", str(target)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {target} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=list(TARGETS), ids=list(TARGETS))
def objects(request) -> list[dict]:
    return render(TARGETS[request.param])


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def pod_specs(obj: dict) -> Iterator[tuple[str, dict]]:
    """The pod specs of a workload, named `<kind>/<name>[/<component>]`."""
    kind, spec, label = obj["kind"], obj.get("spec", {}), f"{obj['kind']}/{obj['metadata']['name']}"
    if kind in {"Deployment", "StatefulSet", "Job"}:
        yield label, spec["template"]["spec"]
    elif kind == "CronJob":
        yield label, spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "InferenceService":  # each component embeds a PodSpec
        for component in ("predictor", "transformer", "explainer"):
            if component in spec:
                yield f"{label}/{component}", spec[component]


def containers(objects: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """(label, pod spec, container) for every container of every workload."""
    for obj in objects:
        for label, pod in pod_specs(obj):
            for container in pod.get("initContainers", []) + pod["containers"]:
                yield f"{label}/{container['name']}", pod, container


def walk(node) -> Iterator[tuple[str, object]]:
    """Every (key, value) pair in a nested document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def model_class(type_name: str) -> type:
    """The OpenAPI model class named `type_name` in the Kubernetes or the KServe Python client."""
    for module in (kubernetes.client.models, kserve.models):
        if hasattr(module, type_name):
            return getattr(module, type_name)
    raise LookupError(f"no OpenAPI model named {type_name}")


def schema_errors(data, type_name: str, path: str = "") -> list[str]:
    """Fields of `data` that `type_name` does not declare, or whose values have the wrong type."""
    if type_name.startswith("list["):
        if not isinstance(data, list):
            return [f"{path}: expected a list, got {data!r}"]
        return [
            e for i, item in enumerate(data) for e in schema_errors(item, type_name[5:-1], f"{path}[{i}]")
        ]
    if type_name.startswith("dict("):
        if not isinstance(data, dict):
            return [f"{path}: expected a map, got {data!r}"]
        value_type = type_name[5:-1].split(", ", 1)[1]
        return [e for key, value in data.items() for e in schema_errors(value, value_type, f"{path}.{key}")]
    if type_name in PRIMITIVES:
        bool_for_number = type_name in {"int", "float"} and isinstance(data, bool)
        ok = isinstance(data, PRIMITIVES[type_name]) and not bool_for_number
        return [] if ok else [f"{path}: expected {type_name}, got {data!r}"]
    model = model_class(type_name)
    if not isinstance(data, dict):
        return [f"{path}: expected a {type_name} object, got {data!r}"]
    fields = {json_key: model.openapi_types[attr] for attr, json_key in model.attribute_map.items()}
    errors = [f"{path}.{key}: unknown field of {type_name}" for key in data if key not in fields]
    return errors + [
        e for key in data if key in fields for e in schema_errors(data[key], fields[key], f"{path}.{key}")
    ]


def openapi_type(obj: dict) -> str:
    """`apps/v1` + `Deployment` -> `V1Deployment`; `serving.kserve.io/v1beta1` + ... -> `V1beta1...`."""
    version = obj["apiVersion"].split("/")[-1]
    return version[0].upper() + version[1:] + obj["kind"]


def test_renders_every_expected_object(objects):
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == EXPECTED


def test_namespaced_objects_are_in_the_skillrank_namespace(objects):
    for obj in objects:
        where = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert where is None, obj["metadata"]["name"]
        else:
            assert where == NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']} is in {where!r}"


def test_every_object_is_labelled_part_of_skillrank(objects):
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "skillrank", obj["metadata"]["name"]


@pytest.mark.parametrize(
    ("component", "command", "args"),
    [
        (
            "transformer",
            ["python", "-m", "inference.transformer"],
            [
                "--model_name",
                "skillrank",
                "--predictor_host",
                "skillrank-predictor.skillrank",
                "--http_port",
                "8080",
            ],
        ),
        (
            "predictor",
            ["python", "-m", "inference.predictor"],
            ["--model_name", "skillrank", "--http_port", "8080"],
        ),
    ],
)
def test_inference_service_runs_the_transformer_and_the_predictor(objects, component, command, args):
    isvc = find(objects, "InferenceService", "skillrank")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    [container] = isvc["spec"][component]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe expects of a custom container
    assert container["command"] == command
    assert container["args"] == args
    assert {"configMapRef": {"name": "skillrank-config"}} in container["envFrom"]


def test_predictor_host_is_the_predictor_service_kserve_creates(objects):
    isvc = find(objects, "InferenceService", "skillrank")
    args = isvc["spec"]["transformer"]["containers"][0]["args"]
    host = args[args.index("--predictor_host") + 1]
    assert host == f"{isvc['metadata']['name']}-predictor.{isvc['metadata']['namespace']}"


def test_pods_reach_mlflow_through_the_config_map(objects):
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    assert data["SKILLRANK_MLFLOW_TRACKING_URI"] == data["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    port = find(objects, "Service", "mlflow")["spec"]["ports"][0]["port"]
    assert data["SKILLRANK_MLFLOW_TRACKING_URI"].endswith(f":{port}")


def test_config_map_holds_valid_skillrank_settings(objects):
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    values = {
        key.removeprefix("SKILLRANK_").lower(): v for key, v in data.items() if key.startswith("SKILLRANK_")
    }
    settings = Settings(**values)  # extra="forbid": a misspelled key fails here
    assert settings.data_root == Path("/data")
    assert settings.online_store == "redis"
    assert settings.redis_connection_string == "redis:6379"
    assert "$(POSTGRES_PASSWORD)" in settings.feast_registry  # no password in the ConfigMap
    isvc = find(objects, "InferenceService", "skillrank")
    assert settings.deploy_target == "kserve"
    assert (settings.namespace, settings.inference_service) == (
        isvc["metadata"]["namespace"],
        isvc["metadata"]["name"],
    )


def test_feast_registry_password_is_expanded_from_the_secret_in_every_pod(objects):
    registry = find(objects, "ConfigMap", "skillrank-config")["data"]["SKILLRANK_FEAST_REGISTRY"]
    for label, _, container in containers(objects):
        uses_config = {"configMapRef": {"name": "skillrank-config"}} in container.get("envFrom", [])
        names = [env["name"] for env in container.get("env", [])]
        if not uses_config:
            continue
        # Kubernetes expands $(VAR) only in `env` values, and only from variables defined before them.
        assert "SKILLRANK_FEAST_REGISTRY" in names, label
        assert names.index("POSTGRES_PASSWORD") < names.index("SKILLRANK_FEAST_REGISTRY"), label
        env = {e["name"]: e for e in container["env"]}
        assert env["SKILLRANK_FEAST_REGISTRY"]["value"] == registry, label
        assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "skillrank-postgres", label


def test_every_container_has_requests_and_limits(objects):
    for label, _, container in containers(objects):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{label} lacks {bound}"


def test_every_container_runs_as_non_root(objects):
    for label, pod, container in containers(objects):
        effective = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        assert effective.get("runAsNonRoot") is True, label
        assert effective.get("runAsUser", 1) != 0, label
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, label


def test_skillrank_and_mlflow_pods_mount_the_data_volume(objects):
    for label, pod, container in containers(objects):
        if not any(name in container["image"] for name in ("skillrank/skillrank", "mlflow/mlflow")):
            continue
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod.get("volumes", [])
            if "persistentVolumeClaim" in v
        }
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert claims.get(mounts.get("/data")) == "skillrank-data", label


def test_references_point_to_rendered_objects(objects):
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        for key, value in walk(obj):
            if key in {"configMapRef", "configMapKeyRef"} or (key == "configMap" and "name" in value):
                assert ("ConfigMap", value["name"]) in names, f"{where} -> ConfigMap {value['name']}"
            elif key in {"secretRef", "secretKeyRef"}:
                assert ("Secret", value["name"]) in names, f"{where} -> Secret {value['name']}"
            elif key == "secret":
                assert ("Secret", value["secretName"]) in names, f"{where} -> Secret {value['secretName']}"
            elif key == "persistentVolumeClaim":
                assert ("PersistentVolumeClaim", value["claimName"]) in names, (
                    f"{where} -> {value['claimName']}"
                )
            elif key == "serviceAccountName":
                assert ("ServiceAccount", value) in names, f"{where} -> ServiceAccount {value}"
            if key in {"configMapKeyRef", "secretKeyRef"}:
                target = find(objects, "ConfigMap" if key == "configMapKeyRef" else "Secret", value["name"])
                assert value["key"] in target.get("data", {}), f"{where} -> {value['name']}[{value['key']}]"


def test_volume_mounts_name_volumes_of_their_pod(objects):
    for obj in objects:
        claim_templates = {t["metadata"]["name"] for t in obj.get("spec", {}).get("volumeClaimTemplates", [])}
        for label, pod in pod_specs(obj):
            volumes = {v["name"] for v in pod.get("volumes", [])} | claim_templates
            for container in pod["containers"]:
                for mount in container.get("volumeMounts", []):
                    assert mount["name"] in volumes, f"{label}/{container['name']} mounts {mount['name']}"


def test_services_select_a_pod_template(objects):
    templates = [
        pod_labels
        for obj in objects
        if obj["kind"] in {"Deployment", "StatefulSet"}
        for pod_labels in [obj["spec"]["template"]["metadata"]["labels"]]
    ]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in templates), service["metadata"]["name"]


def test_role_lets_the_pipeline_deploy_inference_services_and_read_config(objects):
    rules = find(objects, "Role", "skillrank-pipeline")["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = {("serving.kserve.io", "inferenceservices", verb) for verb in ("get", "create", "patch")}
    needed |= {("", resource, "get") for resource in ("configmaps", "secrets")}
    assert needed <= granted
    binding = find(objects, "RoleBinding", "skillrank-pipeline")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "skillrank-pipeline",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "skillrank-pipeline", "namespace": NAMESPACE}
    ]


def test_project_image_is_the_one_named_in_the_kustomization(objects):
    kustomization = yaml.safe_load((REPO_ROOT / "manifests" / "base" / "kustomization.yaml").read_text())
    [entry] = [i for i in kustomization["images"] if i["name"] == "skillrank"]
    image = f"{entry['newName']}:{entry['newTag']}"
    project = [(label, c["image"]) for label, _, c in containers(objects) if "skillrank" in c["image"]]
    assert {label.split("/")[1] for label, _ in project} == {
        "skillrank",
        "skillrank-features",
        "skillrank-monitor",
    }
    assert all(found == image for _, found in project), project


def test_every_image_is_pinned(objects):
    for label, _, container in containers(objects):
        name, _, tag = container["image"].rpartition(":")
        assert name and tag and tag != "latest", f"{label}: {container['image']}"


def test_cron_jobs_run_commands_of_the_skillrank_cli(objects):
    commands = {}
    for cron in (o for o in objects if o["kind"] == "CronJob"):
        [(label, pod)] = pod_specs(cron)
        [container] = pod["containers"]
        program, *argv = container["command"] + container.get("args", [])
        assert program == "skillrank", label
        try:
            commands[cron["metadata"]["name"]] = skillrank_cli().parse_args(argv).command
        except SystemExit:
            pytest.fail(f"{label}: `skillrank {' '.join(argv)}` is not a command of pipelines.cli")
        assert pod["serviceAccountName"] == "skillrank-pipeline", label
    assert commands == {"skillrank-features": "features", "skillrank-monitor": "monitor"}


@pytest.mark.parametrize("component", ["transformer", "predictor"])
def test_inference_service_args_parse_with_the_servers_own_parser(objects, component):
    [container] = find(objects, "InferenceService", "skillrank")["spec"][component]["containers"]
    server = importlib.import_module(container["command"][-1])
    args = server.build_parser().parse_args(container["args"])
    assert (args.model_name, args.http_port) == ("skillrank", 8080)


def test_mlflow_server_uses_postgres_and_the_data_volume(objects):
    [container] = find(objects, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert container["command"] == ["mlflow", "server"]
    assert args[args.index("--backend-store-uri") + 1] == (
        "postgresql://skillrank:$(POSTGRES_PASSWORD)@postgres:5432/mlflow"
    )
    assert args[args.index("--artifacts-destination") + 1] == "/data/mlartifacts"
    assert args[args.index("--port") + 1] == "5000"
    assert [e["name"] for e in container["env"]][0] == "POSTGRES_PASSWORD"


def test_every_object_fits_its_openapi_model(objects):
    for obj in objects:
        assert schema_errors(obj, openapi_type(obj), obj["metadata"]["name"]) == []


def test_built_in_objects_deserialize_with_the_kubernetes_client(objects):
    client = kubernetes.client.ApiClient()
    for obj in (o for o in objects if hasattr(kubernetes.client.models, openapi_type(o))):
        # The client's models check required fields and value types while they deserialize.
        model = client.deserialize(SimpleNamespace(data=json.dumps(obj)), openapi_type(obj))
        assert model.metadata.name == obj["metadata"]["name"]


def test_schema_check_catches_a_misspelled_field_and_a_wrong_type():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "replicas": "2",
            "selector": {},
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "resource": {}}]}},
        },
    }
    errors = schema_errors(deployment, openapi_type(deployment))
    assert errors == [
        ".spec.replicas: expected int, got '2'",
        ".spec.template.spec.containers[0].resource: unknown field of V1Container",
    ]


def test_local_overlay_runs_one_replica_on_a_read_write_once_volume():
    objects = render(TARGETS["local-overlay"])
    assert find(objects, "PersistentVolumeClaim", "skillrank-data")["spec"]["accessModes"] == [
        "ReadWriteOnce"
    ]
    isvc = find(objects, "InferenceService", "skillrank")
    for component in ("predictor", "transformer"):
        assert isvc["spec"][component]["minReplicas"] == isvc["spec"][component]["maxReplicas"] == 1
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet"}:
            assert obj["spec"]["replicas"] == 1, obj["metadata"]["name"]
