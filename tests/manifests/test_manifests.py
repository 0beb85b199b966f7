"""The kustomize manifests render, fit the Kubernetes, KServe and Spark Operator APIs, and cross-refer.

Every test runs on each overlay: the repository root (what `kubectl apply -k .` installs, the dev overlay),
dev, prod and local. Security, the network and the namespace have modules of their own beside this one.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import kserve.models
import kubernetes.client
import pytest
import yaml

from components.config.settings import Settings
from pipelines.cli import build_parser as skillrank_cli
from tests.manifests.rendering import (
    EXTERNAL_SECRETS,
    KUBECTL,
    NAMESPACE,
    OVERLAYS,
    PROJECT_IMAGE_NAME,
    as_pods,
    containers,
    find,
    isvc_pods,
    pod_specs,
    render,
    walk,
)

BASE = {
    ("Namespace", "skillrank"),
    ("ServiceAccount", "skillrank-pipeline"),
    ("Role", "skillrank-pipeline"),
    ("RoleBinding", "skillrank-pipeline"),
    ("ServiceAccount", "skillrank-features"),
    ("ServiceAccount", "skillrank-monitor"),
    ("ServiceAccount", "skillrank-serving"),
    ("ServiceAccount", "mlflow"),
    ("ServiceAccount", "postgres"),
    ("ServiceAccount", "redis"),
    ("ConfigMap", "skillrank-config"),
    ("ConfigMap", "postgres-init"),
    ("PersistentVolumeClaim", "skillrank-data"),
    ("PersistentVolumeClaim", "skillrank-export"),
    ("StatefulSet", "postgres"),
    ("Service", "postgres"),
    ("Deployment", "mlflow"),
    ("Service", "mlflow"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("InferenceService", "skillrank"),
    ("CronJob", "skillrank-features"),
    ("CronJob", "skillrank-monitor"),
} | {
    ("NetworkPolicy", name)
    for name in (
        "default-deny",
        "dns",
        "postgres",
        "redis",
        "mlflow",
        "skillrank-transformer",
        "skillrank-predictor",
        "skillrank-features",
        "skillrank-monitor",
        "skillrank-pipeline-runs",
    )
}
DEV = BASE | {
    ("ServiceAccount", "skillrank-dev-secrets"),
    ("Role", "skillrank-dev-secrets"),
    ("RoleBinding", "skillrank-dev-secrets"),
    ("Job", "skillrank-dev-secrets"),
    ("NetworkPolicy", "skillrank-dev-secrets"),
    ("ServiceAccount", "skillrank-demo-export"),
    ("Job", "skillrank-demo-export"),
    ("NetworkPolicy", "skillrank-demo-export"),
}
PROD = (BASE - {("CronJob", "skillrank-features")}) | {
    ("ScheduledSparkApplication", "skillrank-features"),
    ("ServiceAccount", "skillrank-spark"),
    ("Role", "skillrank-spark"),
    ("RoleBinding", "skillrank-spark"),
    ("NetworkPolicy", "skillrank-features-spark"),
    ("NetworkPolicy", "skillrank-features-spark-driver"),
    ("PodDisruptionBudget", "skillrank-transformer"),
    ("PodDisruptionBudget", "skillrank-predictor"),
}
EXPECTED = {"root": DEV, "dev": DEV, "prod": PROD, "local": DEV}
CLUSTER_SCOPED = {"Namespace"}
CUSTOM_WORKLOADS = {"InferenceService", "ScheduledSparkApplication"}
# Containers that use the Feast stores: they define both passwords and receive the expanded URLs.
FEAST_CLIENTS = {
    "Pod/skillrank-transformer/kserve-container",
    "CronJob/skillrank-features/features",
    "Pod/skillrank-features-driver/spark-kubernetes-driver",
}
# Where the data root is mounted: every skillrank and MLflow pod but the predictor (it loads the model
# from MLflow) and the dev-only Jobs (credentials, the simulated export).
NO_DATA_VOLUME = {"Pod/skillrank-predictor", "Job/skillrank-dev-secrets", "Job/skillrank-demo-export"}
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
# Fields of the Spark Operator's CRDs (sparkoperator.k8s.io/v1beta2, chart v2.5.2), for the custom
# resources no Python client models: a misspelled field is dropped by the API server without a word.
SPARK_FIELDS = {
    "scheduled": {
        "concurrencyPolicy",
        "failedRunHistoryLimit",
        "schedule",
        "successfulRunHistoryLimit",
        "suspend",
        "template",
        "timeZone",
    },
    "application": {
        "arguments",
        "batchScheduler",
        "batchSchedulerOptions",
        "deps",
        "driver",
        "driverIngressOptions",
        "dynamicAllocation",
        "executor",
        "failureRetries",
        "hadoopConf",
        "hadoopConfigMap",
        "image",
        "imagePullPolicy",
        "imagePullSecrets",
        "mainApplicationFile",
        "mainClass",
        "memoryOverheadFactor",
        "mode",
        "monitoring",
        "nodeSelector",
        "proxyUser",
        "pythonVersion",
        "restartPolicy",
        "retryInterval",
        "sparkConf",
        "sparkConfigMap",
        "sparkUIOptions",
        "sparkVersion",
        "suspend",
        "timeToLiveSeconds",
        "type",
        "volumes",
    },  # fmt: skip
    "pod": {
        "affinity",
        "annotations",
        "configMaps",
        "coreLimit",
        "coreRequest",
        "cores",
        "deleteOnTermination",
        "dnsConfig",
        "env",
        "envFrom",
        "envSecretKeyRefs",
        "envVars",
        "gpu",
        "hostAliases",
        "hostNetwork",
        "image",
        "initContainers",
        "instances",
        "javaOptions",
        "kubernetesMaster",
        "labels",
        "lifecycle",
        "memory",
        "memoryLimit",
        "memoryOverhead",
        "nodeSelector",
        "podName",
        "podSecurityContext",
        "ports",
        "priorityClassName",
        "schedulerName",
        "secrets",
        "securityContext",
        "serviceAccount",
        "serviceAnnotations",
        "serviceLabels",
        "shareProcessNamespace",
        "sidecars",
        "template",
        "terminationGracePeriodSeconds",
        "tolerations",
        "volumeMounts",
    },  # fmt: skip
}
SPARK_EMBEDDED = {  # Kubernetes types inside the Spark application spec
    "volumes": "list[V1Volume]",
    "env": "list[V1EnvVar]",
    "envFrom": "list[V1EnvFromSource]",
    "securityContext": "V1SecurityContext",
    "podSecurityContext": "V1PodSecurityContext",
    "volumeMounts": "list[V1VolumeMount]",
}

pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl (with its built-in kustomize) is not on PATH: cannot render the manifests",
)


@pytest.fixture(scope="module", params=list(OVERLAYS), ids=list(OVERLAYS))
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def objects(overlay) -> list[dict]:
    return render(OVERLAYS[overlay])


def all_containers(objects: list[dict]):
    """Containers of the workloads, the pods of the custom resources (InferenceService, Spark) included."""
    return containers([o for o in objects if o["kind"] not in CUSTOM_WORKLOADS] + as_pods(objects))


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


def has_model(obj: dict) -> bool:
    try:
        model_class(openapi_type(obj))
    except LookupError:
        return False
    return True


def test_renders_every_expected_object(overlay, objects):
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == EXPECTED[overlay]


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
    ("component", "command"),
    [
        ("transformer", ["python", "-m", "inference.transformer"]),
        ("predictor", ["python", "-m", "inference.predictor"]),
    ],
)
def test_inference_service_runs_the_transformer_and_the_predictor(objects, component, command):
    isvc = find(objects, "InferenceService", "skillrank")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    [container] = isvc["spec"][component]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe expects of a custom container
    assert container["command"] == command
    # A fresh install has no champion yet: the servers wait not ready instead of exiting.
    wait = ["--wait_for_model", "true"]
    assert container["args"] == ["--model_name", "skillrank", "--http_port", "8080", *wait]
    assert {"configMapRef": {"name": "skillrank-config"}} in container["envFrom"]


def test_transformer_leaves_the_predictor_host_to_kserve(objects):
    # KServe adds `--predictor_host <name>-predictor.<namespace>` when the container does not set it, so
    # the address follows the namespace the InferenceService is installed into.
    isvc = find(objects, "InferenceService", "skillrank")
    assert "--predictor_host" not in isvc["spec"]["transformer"]["containers"][0]["args"]
    transformer = next(p for p in isvc_pods(isvc) if p["metadata"]["labels"]["component"] == "transformer")
    args = transformer["spec"]["containers"][0]["args"]
    assert args[args.index("--predictor_host") + 1] == f"skillrank-predictor.{isvc['metadata']['namespace']}"


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
    assert settings.source == Path("/export")
    assert settings.online_store == "redis"
    # No password in the ConfigMap: references that Kubernetes (or the Settings class) fills in.
    assert settings.redis_connection_string == "redis:6379,password=$(REDIS_PASSWORD)"
    assert (
        settings.feast_registry == "postgresql+psycopg://skillrank:$(POSTGRES_PASSWORD)@postgres:5432/feast"
    )
    assert settings.deploy_target == "kserve"
    assert settings.inference_service == find(objects, "InferenceService", "skillrank")["metadata"]["name"]
    assert "SKILLRANK_NAMESPACE" not in data  # each pod reads its own from the downward API
    assert (
        settings.image
        == find(objects, "InferenceService", "skillrank")["spec"]["predictor"]["containers"][0]["image"]
    )  # what `skillrank compile` in a pod gives the pipeline: the manifests' image


def test_feast_clients_and_only_they_get_the_passwords_and_the_expanded_urls(overlay, objects):
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    clients = set()
    for label, _, container in all_containers(objects):
        env = {e["name"]: e for e in container.get("env", [])}
        names = list(env)
        if not container["image"].startswith(PROJECT_IMAGE_NAME):
            continue  # PostgreSQL, Redis and MLflow read their own password
        if not {"POSTGRES_PASSWORD", "REDIS_PASSWORD"} & set(env):
            continue
        clients.add(label)
        # Kubernetes expands $(VAR) only in `env` values, and only from variables defined before them.
        for url, password, secret in (
            ("SKILLRANK_FEAST_REGISTRY", "POSTGRES_PASSWORD", "skillrank-postgres"),
            ("SKILLRANK_REDIS_CONNECTION_STRING", "REDIS_PASSWORD", "skillrank-redis"),
        ):
            assert names.index(password) < names.index(url), label
            assert env[url]["value"] == data[url], label
            assert env[password]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "password"}, label
    refresh = "Pod/skillrank-features-driver" if overlay == "prod" else "CronJob/skillrank-features"
    assert clients == {"Pod/skillrank-transformer/kserve-container"} | {
        c for c in FEAST_CLIENTS if c.startswith(refresh)
    }


def test_every_container_has_requests_and_limits(objects):
    for label, _, container in all_containers(objects):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{label} lacks {bound}"


def test_skillrank_and_mlflow_pods_mount_the_data_volume(objects):
    for label, pod, container in all_containers(objects):
        image = container["image"]
        if not (image.startswith(PROJECT_IMAGE_NAME) or "mlflow/mlflow" in image):
            continue
        if label.rsplit("/", 1)[0] in NO_DATA_VOLUME:
            continue
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod.get("volumes", [])
            if "persistentVolumeClaim" in v
        }
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert claims.get(mounts.get("/data")) == "skillrank-data", label


def test_the_feature_refresh_reads_the_export_read_only(objects):
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    refresh = [
        (label, pod, c)
        for label, pod, c in all_containers(objects)
        if label.startswith(("CronJob/skillrank-features/", "Pod/skillrank-features-driver/"))
    ]
    assert len(refresh) == 1
    [(label, pod, container)] = refresh
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == data["SKILLRANK_SOURCE"]]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert mount["readOnly"] is True, label
    assert volume["persistentVolumeClaim"] == {"claimName": "skillrank-export", "readOnly": True}, label


def test_references_point_to_rendered_objects(objects):
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        for key, value in walk(obj):
            if key in {"configMapRef", "configMapKeyRef"} or (key == "configMap" and "name" in value):
                assert ("ConfigMap", value["name"]) in names, f"{where} -> ConfigMap {value['name']}"
            elif key in {"secretRef", "secretKeyRef"}:
                assert value["name"] in EXTERNAL_SECRETS, f"{where} -> Secret {value['name']}"
                if key == "secretKeyRef":
                    assert value["key"] in EXTERNAL_SECRETS[value["name"]], f"{where} -> {value}"
            elif key == "persistentVolumeClaim":
                assert ("PersistentVolumeClaim", value["claimName"]) in names, (
                    f"{where} -> {value['claimName']}"
                )
            elif key in {"serviceAccountName", "serviceAccount"} and isinstance(value, str):
                assert ("ServiceAccount", value) in names, f"{where} -> ServiceAccount {value}"
            if key == "configMapKeyRef":
                target = find(objects, "ConfigMap", value["name"])
                assert value["key"] in target.get("data", {}), f"{where} -> {value['name']}[{value['key']}]"


def test_volume_mounts_name_volumes_of_their_pod(objects):
    for obj in objects + as_pods(objects):
        claim_templates = {t["metadata"]["name"] for t in obj.get("spec", {}).get("volumeClaimTemplates", [])}
        for label, pod in pod_specs(obj):
            volumes = {v["name"] for v in pod.get("volumes", [])} | claim_templates
            for container in pod["containers"]:
                for mount in container.get("volumeMounts", []):
                    assert mount["name"] in volumes, f"{label}/{container['name']} mounts {mount['name']}"


def test_services_select_a_pod_template(objects):
    templates = [
        obj["spec"]["template"]["metadata"]["labels"]
        for obj in objects
        if obj["kind"] in {"Deployment", "StatefulSet"}
    ]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in templates), service["metadata"]["name"]


def test_every_image_is_pinned(objects):
    for label, _, container in all_containers(objects):
        name, _, tag = container["image"].rpartition(":")
        assert name and tag and tag != "latest", f"{label}: {container['image']}"


def test_batch_jobs_run_commands_of_the_skillrank_cli(objects):
    commands = {}
    for job in (o for o in objects if o["kind"] in {"CronJob", "Job"}):
        [(label, pod)] = pod_specs(job)
        [container] = pod["containers"]
        program, *argv = container["command"] + container.get("args", [])
        if program != "skillrank":  # the dev credentials Job runs a short Python script
            continue
        try:
            commands[job["metadata"]["name"]] = skillrank_cli().parse_args(argv).command
        except SystemExit:
            pytest.fail(f"{label}: `skillrank {' '.join(argv)}` is not a command of pipelines.cli")
    assert {"skillrank-monitor": "monitor"}.items() <= commands.items()
    assert commands.get("skillrank-features", "features") == "features"


def test_spark_application_runs_the_feature_refresh_of_the_cli(objects):
    apps = [o for o in objects if o["kind"] == "ScheduledSparkApplication"]
    for app in apps:
        template = app["spec"]["template"]
        assert template["mainApplicationFile"] == "local:///opt/skillrank/spark_main.py"
        assert skillrank_cli().parse_args(template["arguments"]).command == "features"
        assert template["type"] == "Python" and template["mode"] == "cluster"
        # The job's session keeps spark-submit's master (components/features/spark.py): nothing may
        # point it elsewhere, e.g. at Spark's local mode inside the driver pod.
        env = {e["name"]: e.get("value") for e in template["driver"]["env"]}
        assert "SKILLRANK_SPARK_MASTER" not in env and "spark.master" not in template.get("sparkConf", {})


def test_spark_executors_are_sized_by_the_settings_of_the_config_map(objects):
    data = find(objects, "ConfigMap", "skillrank-config")["data"]
    settings = Settings(**{k.removeprefix("SKILLRANK_").lower(): v for k, v in data.items() if "SPARK" in k})
    for app in (o for o in objects if o["kind"] == "ScheduledSparkApplication"):
        executor = app["spec"]["template"]["executor"]
        assert executor["instances"] == settings.spark_executor_instances
        assert executor["cores"] == settings.spark_executor_cores == int(executor["coreLimit"])
        assert executor["memory"] == settings.spark_executor_memory


@pytest.mark.parametrize("component", ["transformer", "predictor"])
def test_inference_service_args_parse_with_the_servers_own_parser(objects, component):
    isvc = find(objects, "InferenceService", "skillrank")
    [pod] = [p for p in isvc_pods(isvc) if p["metadata"]["labels"]["component"] == component]
    [container] = pod["spec"]["containers"]
    server = importlib.import_module(container["command"][-1])
    args = server.build_parser().parse_args(container["args"])
    assert (args.model_name, args.http_port, args.wait_for_model) == ("skillrank", 8080, True)


def test_mlflow_server_uses_postgres_the_data_volume_and_its_own_namespace(objects):
    [container] = find(objects, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert container["command"] == ["mlflow", "server"]
    assert args[args.index("--backend-store-uri") + 1] == (
        "postgresql://skillrank:$(POSTGRES_PASSWORD)@postgres:5432/mlflow"
    )
    assert args[args.index("--artifacts-destination") + 1] == "/data/mlartifacts"
    assert args[args.index("--port") + 1] == "5000"
    hosts = [h.strip() for h in args[args.index("--allowed-hosts") + 1].split(",")]
    assert {"mlflow", "mlflow.$(POD_NAMESPACE)", "mlflow.$(POD_NAMESPACE).svc.cluster.local:*"} <= set(hosts)
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_every_object_fits_its_openapi_model(objects):
    for obj in objects + as_pods(objects):
        if has_model(obj):
            assert schema_errors(obj, openapi_type(obj), obj["metadata"]["name"]) == []


def test_spark_application_uses_fields_of_the_operator_crd(objects):
    for app in (o for o in objects if o["kind"] == "ScheduledSparkApplication"):
        assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
        spec, template = app["spec"], app["spec"]["template"]
        assert set(spec) <= SPARK_FIELDS["scheduled"]
        assert set(template) <= SPARK_FIELDS["application"]
        parts = [("template", template)] + [(role, template[role]) for role in ("driver", "executor")]
        for role in ("driver", "executor"):
            assert set(template[role]) <= SPARK_FIELDS["pod"], role
        for where, part in parts:
            for key, type_name in SPARK_EMBEDDED.items():
                if key in part:
                    assert schema_errors(part[key], type_name, f"{where}.{key}") == []


def test_built_in_objects_deserialize_with_the_kubernetes_client(objects):
    client = kubernetes.client.ApiClient()
    for obj in (o for o in objects + as_pods(objects) if hasattr(kubernetes.client.models, openapi_type(o))):
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


def test_local_overlay_runs_one_replica_on_read_write_once_volumes():
    objects = render(OVERLAYS["local"])
    for claim in (o for o in objects if o["kind"] == "PersistentVolumeClaim"):
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], claim["metadata"]["name"]
    isvc = find(objects, "InferenceService", "skillrank")
    for component in ("predictor", "transformer"):
        assert isvc["spec"][component]["minReplicas"] == isvc["spec"][component]["maxReplicas"] == 1
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet"}:
            assert obj["spec"]["replicas"] == 1, obj["metadata"]["name"]


def test_prod_overlay_autoscales_the_feed_and_keeps_replicas_through_disruptions():
    objects = render(OVERLAYS["prod"])
    isvc = find(objects, "InferenceService", "skillrank")
    for component in ("predictor", "transformer"):
        spec = isvc["spec"][component]
        # KServe (Standard mode, HPA autoscaler) creates one HPA per component from these fields.
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"], component
        assert spec["scaleMetric"] == "cpu" and 0 < spec["scaleTarget"] <= 100, component
        budget = find(objects, "PodDisruptionBudget", f"skillrank-{component}")
        assert budget["spec"]["selector"]["matchLabels"].items() <= spec["labels"].items()
        assert budget["spec"]["minAvailable"] < spec["minReplicas"], component  # drains can proceed
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "hpa"
    app = find(objects, "ScheduledSparkApplication", "skillrank-features")
    assert app["spec"]["template"]["executor"]["instances"] > 1


def test_root_kustomization_is_the_dev_overlay():
    root = yaml.safe_load((OVERLAYS["root"] / "kustomization.yaml").read_text())
    assert root["resources"] == ["manifests/overlays/dev"]
