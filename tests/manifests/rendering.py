"""Render the kustomizations and read them as a platform engineer would: workloads, pods, containers.

Custom resources embed pod specs that their controllers turn into pods: KServe makes one per
InferenceService component (the component's `labels` and `annotations` on the pod, `--predictor_host`
passed to the transformer), the Spark Operator a driver and executors per application. `as_pods` writes
those pods out, so that the same checks (and checkov) see every pod that will run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
MANIFESTS = REPO_ROOT / "manifests"
OVERLAYS = {
    "root": REPO_ROOT,  # what `kubectl apply -k .` installs: the dev overlay
    "dev": MANIFESTS / "overlays" / "dev",
    "prod": MANIFESTS / "overlays" / "prod",
    "local": MANIFESTS / "overlays" / "local",
}
NAMESPACE = "skillrank"
PROJECT_IMAGE_NAME = "ghcr.io/skillrank/skillrank"
# The Secrets the base reads and no manifest writes (dev generates them, prod brings them).
EXTERNAL_SECRETS = {"skillrank-postgres": {"password"}, "skillrank-redis": {"password"}}
POD_SPEC_FIELDS = set(kubernetes.client.V1PodSpec.attribute_map.values())
# What the Spark Operator's driver and executor specs say about the pod, by Kubernetes field.
SPARK_POD_FIELDS = {"serviceAccount": "serviceAccountName", "podSecurityContext": "securityContext"}
SPARK_CONTAINER_FIELDS = ("env", "envFrom", "securityContext", "volumeMounts")


def render(target: Path) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` and parse every document."""
    result = subprocess.run(
        [KUBECTL, "kustomize", str(target)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {target} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_into(overlay: Path, namespace: str, workdir: Path) -> list[dict]:
    """Render `overlay` through an overlay of its own that only sets another namespace."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {"namespace": namespace, "resources": [os.path.relpath(overlay.resolve(), workdir.resolve())]}
        )
    )
    return render(workdir)


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
    elif kind == "Pod":
        yield label, spec


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


def isvc_pods(isvc: dict) -> list[dict]:
    """The pods KServe runs for an InferenceService, as it writes them (Standard deployment mode)."""
    name, namespace = isvc["metadata"]["name"], isvc["metadata"].get("namespace")
    pods = []
    for component in ("predictor", "transformer"):
        spec = isvc["spec"][component]
        pod_spec = {key: value for key, value in spec.items() if key in POD_SPEC_FIELDS}
        if component == "transformer":
            pod_spec["containers"] = [with_kserve_args(pod_spec["containers"][0], isvc)]
        labels = {
            **isvc["metadata"].get("labels", {}),
            **spec.get("labels", {}),
            "serving.kserve.io/inferenceservice": name,
            "component": component,
        }
        metadata = {"name": f"{name}-{component}", "namespace": namespace, "labels": labels}
        if spec.get("annotations"):
            metadata["annotations"] = spec["annotations"]
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec})
    return pods


def with_kserve_args(container: dict, isvc: dict) -> dict:
    """The transformer container with the arguments KServe adds when they are missing."""
    args = list(container.get("args", []))
    name, namespace = isvc["metadata"]["name"], isvc["metadata"].get("namespace")
    for flag, value in (
        ("--model_name", name),
        ("--predictor_host", f"{name}-predictor.{namespace}"),
        ("--http_port", "8080"),
    ):
        if flag not in args:
            args += [flag, value]
    return {**container, "args": args}


def spark_pods(app: dict) -> list[dict]:
    """The driver and one executor of a (Scheduled)SparkApplication, as the Spark Operator writes them."""
    spec = app["spec"].get("template", app["spec"])
    namespace = app["metadata"].get("namespace")
    pods = []
    for role in ("driver", "executor"):
        part = spec[role]
        memory_mib = spark_mib(part["memory"])
        overhead_mib = max(384, int(memory_mib * 0.4))  # non-JVM (Python) jobs: 40 %
        container = {
            "name": f"spark-kubernetes-{role}",
            "image": part.get("image", spec["image"]),
            "imagePullPolicy": spec.get("imagePullPolicy", "IfNotPresent"),
            "resources": {
                "requests": {"cpu": str(part["cores"]), "memory": f"{memory_mib + overhead_mib}Mi"},
                "limits": {"cpu": part["coreLimit"], "memory": f"{memory_mib + overhead_mib}Mi"},
            },
            **{key: part[key] for key in SPARK_CONTAINER_FIELDS if key in part},
        }
        pod_spec = {
            "containers": [container],
            "restartPolicy": "Never",
            "volumes": [
                v for v in spec.get("volumes", []) if v["name"] in {m["name"] for m in part["volumeMounts"]}
            ],
            **{field: part[key] for key, field in SPARK_POD_FIELDS.items() if key in part},
        }
        metadata = {
            "name": f"{app['metadata']['name']}-{role}",
            "namespace": namespace,
            "labels": {**part.get("labels", {}), "spark-role": role},
            "annotations": part.get("annotations", {}),
        }
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec})
    return pods


def spark_mib(memory: str) -> int:
    """A Spark memory size (``6g``, ``6144m``) in MiB."""
    return int(memory[:-1]) * {"g": 1024, "m": 1}[memory[-1].lower()]


def as_pods(objects: list[dict]) -> list[dict]:
    """The pods that the custom resources among `objects` make their controllers run."""
    pods = []
    for obj in objects:
        if obj["kind"] == "InferenceService":
            pods += isvc_pods(obj)
        elif obj["kind"] in {"SparkApplication", "ScheduledSparkApplication"}:
            pods += spark_pods(obj)
    return pods


def pod_templates(objects: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """(label, pod labels, pod spec) of every pod the objects run, custom resources' pods included."""
    for obj in objects + as_pods(objects):
        kind = obj["kind"]
        if kind in {"Deployment", "StatefulSet", "Job"}:
            yield from (
                (label, obj["spec"]["template"]["metadata"]["labels"], pod) for label, pod in pod_specs(obj)
            )
        elif kind == "CronJob":
            meta = obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
            yield from ((label, meta["labels"], pod) for label, pod in pod_specs(obj))
        elif kind == "Pod":
            yield f"Pod/{obj['metadata']['name']}", obj["metadata"]["labels"], obj["spec"]
