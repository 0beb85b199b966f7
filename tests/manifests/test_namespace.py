"""An overlay that sets another namespace moves everything, and every reference to the namespace follows.

Each overlay is rendered through a one-line overlay of its own (`namespace: ml-ranking`), as a platform
team would install it; then no object, subject, address or setting may still name `skillrank` as a
namespace.
"""

from __future__ import annotations

import re

import pytest

from tests.manifests.rendering import KUBECTL, OVERLAYS, as_pods, find, pod_templates, render_into, walk

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")

OTHER = "ml-ranking"
# `<service>.skillrank`, `.skillrank.svc`, `skillrank-predictor.skillrank:80`: a DNS name in the namespace.
NAMESPACED_NAME = re.compile(r"\.skillrank(\.svc|[.:,\s]|$)")
# What the cluster's kubelet expands in env values and args.
REFERENCE = re.compile(r"\$\((\w+)\)")


@pytest.fixture(scope="module", params=["dev", "prod"])
def moved(request, tmp_path_factory) -> list[dict]:
    return render_into(OVERLAYS[request.param], OTHER, tmp_path_factory.mktemp(f"into-{request.param}"))


def test_every_object_moves_to_the_new_namespace(moved):
    for obj in moved:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == OTHER
            assert obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            assert obj["metadata"]["namespace"] == OTHER, f"{obj['kind']}/{obj['metadata']['name']}"


def test_role_binding_subjects_follow(moved):
    for binding in (o for o in moved if o["kind"] == "RoleBinding"):
        assert {s["namespace"] for s in binding["subjects"]} == {OTHER}, binding["metadata"]["name"]


def test_no_value_names_the_old_namespace(moved):
    for obj in moved + as_pods(moved):
        for key, value in walk(obj):
            where = f"{obj['kind']}/{obj['metadata']['name']}.{key}"
            if key == "namespace":
                assert value == OTHER, where
            elif isinstance(value, str):
                assert not NAMESPACED_NAME.search(value), f"{where}: {value}"


def test_pods_read_their_namespace_from_the_downward_api(moved):
    for label, _, pod in pod_templates(moved):
        for container in pod["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            for name in ("SKILLRANK_NAMESPACE", "POD_NAMESPACE"):
                if name in env:
                    assert env[name] == {
                        "name": name,
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                    }, label
    config = find(moved, "ConfigMap", "skillrank-config")["data"]
    assert "SKILLRANK_NAMESPACE" not in config


def test_transformer_reaches_the_predictor_in_the_new_namespace(moved):
    transformer = next(p for p in as_pods(moved) if p["metadata"]["labels"].get("component") == "transformer")
    args = transformer["spec"]["containers"][0]["args"]
    assert args[args.index("--predictor_host") + 1] == f"skillrank-predictor.{OTHER}"


def test_mlflow_allows_its_in_cluster_names_in_the_new_namespace(moved):
    [container] = find(moved, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    values = {"POD_NAMESPACE": OTHER}  # the kubelet fills in the downward API's value
    hosts = REFERENCE.sub(
        lambda m: values[m.group(1)], container["args"][container["args"].index("--allowed-hosts") + 1]
    )
    allowed = {h.strip() for h in hosts.split(",")}
    assert {f"mlflow.{OTHER}", f"mlflow.{OTHER}.svc:*", f"mlflow.{OTHER}.svc.cluster.local:*"} <= allowed


def test_the_check_catches_a_hard_coded_namespace():
    assert NAMESPACED_NAME.search("skillrank-predictor.skillrank")
    assert NAMESPACED_NAME.search("mlflow.skillrank.svc.cluster.local:5000")
    assert not NAMESPACED_NAME.search("ghcr.io/skillrank/skillrank:0.1.0")
    assert not NAMESPACED_NAME.search("app.kubernetes.io/part-of")
