"""The NetworkPolicies let through exactly the connections each part makes, and nothing else.

`allowed` evaluates the rendered policies the way Kubernetes does (a connection needs an egress rule of
the client's policies and an ingress rule of the server's, unless no policy of that direction selects
the pod), over every pod the overlay runs plus a Kubeflow Pipelines run pod; the tests compare the
resulting connection graph to the one the system needs.
"""

from __future__ import annotations

import pytest

from tests.manifests.rendering import KUBECTL, NAMESPACE, OVERLAYS, pod_templates, render

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")

PIPELINE_RUN = {"workflows.argoproj.io/workflow": "skillrank-training-abcde"}  # what Argo labels pods with
PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "mlflow": 5000,
    "skillrank-predictor": 8080,
    "skillrank-transformer": 8080,
}
SPARK_PORT = 7078  # the driver's RPC port (Spark picks the executors' ports at run time)
NEEDED = {
    ("skillrank-transformer", "skillrank-predictor"),
    ("skillrank-transformer", "redis"),
    ("skillrank-transformer", "postgres"),
    ("skillrank-predictor", "mlflow"),
    ("mlflow", "postgres"),
    ("skillrank-monitor", "mlflow"),
    ("pipeline-run", "mlflow"),
    ("pipeline-run", "postgres"),
    ("pipeline-run", "redis"),
}
LOCAL_REFRESH = {("skillrank-features", "postgres"), ("skillrank-features", "redis")}
SPARK_REFRESH = {  # the application's pods talk among themselves on Spark's ports
    ("skillrank-features-driver", "postgres"),
    ("skillrank-features-driver", "redis"),
} | {
    (a, b)
    for a in ("skillrank-features-driver", "skillrank-features-executor")
    for b in ("skillrank-features-driver", "skillrank-features-executor")
}
API_CLIENTS = {"pipeline-run", "skillrank-dev-secrets", "skillrank-features-driver"}


@pytest.fixture(scope="module", params=list(OVERLAYS), ids=list(OVERLAYS))
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def objects(overlay) -> list[dict]:
    return render(OVERLAYS[overlay])


def pods(objects: list[dict]) -> dict[str, dict]:
    """Pod name (its app.kubernetes.io/name, or the Spark role) -> its labels."""
    found = {"pipeline-run": PIPELINE_RUN}
    for _, labels, _ in pod_templates(objects):
        name = labels["app.kubernetes.io/name"]
        if "spark-role" in labels:
            name = f"skillrank-features-{labels['spark-role']}"
        found[name] = labels
    return found


def matches(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels and the operators matchExpressions uses here) against labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "Exists" and key not in labels:
            return False
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
    return True


def peer_matches(peer: dict, labels: dict, namespace: str, home: str) -> bool:
    """A policy peer against a pod (labels, namespace). ipBlock never matches a pod here."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != home:
        return False
    return matches(peer.get("podSelector", {}), labels)


def port_matches(rule: dict, port: int) -> bool:
    return not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])


def admits(policies, direction: str, pod: dict, peer: dict, peer_namespace: str, port: int) -> bool:
    """Whether the policies of `pod` (in the skillrank namespace) let the connection through."""
    selecting = [
        p
        for p in policies
        if matches(p["spec"]["podSelector"], pod) and direction in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    return any(
        port_matches(rule, port)
        and (
            not rule.get(peers) or any(peer_matches(p, peer, peer_namespace, NAMESPACE) for p in rule[peers])
        )
        for policy in selecting
        for rule in policy["spec"].get(key, [])
    )


def allowed(objects, client: dict, server: dict, port: int, client_namespace: str = NAMESPACE) -> bool:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    egress = client_namespace != NAMESPACE or admits(policies, "Egress", client, server, NAMESPACE, port)
    return egress and admits(policies, "Ingress", server, client, client_namespace, port)


def connections(objects: list[dict]) -> set[tuple[str, str]]:
    found = pods(objects)
    return {
        (client, server)
        for client, client_labels in found.items()
        for server, server_labels in found.items()
        if allowed(objects, client_labels, server_labels, PORTS.get(server, SPARK_PORT))
    }


def test_pods_reach_exactly_what_they_need(overlay, objects):
    refresh = SPARK_REFRESH if overlay == "prod" else LOCAL_REFRESH
    assert connections(objects) == NEEDED | refresh


def test_every_pod_is_selected_by_the_default_deny(objects):
    deny = next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny"
    )
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_every_pod_has_a_policy_of_its_own(objects):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"]]
    for name, labels in pods(objects).items():
        assert any(matches(p["spec"]["podSelector"], labels) for p in policies), name


def test_every_pod_may_resolve_names_wherever_the_cluster_dns_runs(objects):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for name, labels in pods(objects).items():
        dns = [
            rule
            for p in policies
            if matches(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
            if {port["port"] for port in rule.get("ports", [])} == {53}
        ]
        assert dns and all("to" not in rule for rule in dns), name


def test_only_api_clients_reach_the_kubernetes_api(objects):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for name, labels in pods(objects).items():
        reaches_api = any(
            "ipBlock" in peer and any(port["port"] in {443, 6443} for port in rule.get("ports", []))
            for p in policies
            if matches(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
            for peer in rule.get("to", [])
        )
        assert reaches_api is (name in API_CLIENTS), name


def test_clients_in_other_namespaces_reach_the_feed_and_nothing_else(objects):
    found = pods(objects)
    outsider = {"app": "api-gateway"}
    reachable = {
        server
        for server, labels in found.items()
        if allowed(objects, outsider, labels, PORTS.get(server, SPARK_PORT), client_namespace="ingress")
    }
    assert reachable == {"skillrank-transformer"}


def test_pipeline_runs_reach_kubeflow_pipelines_services():
    objects = render(OVERLAYS["dev"])
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ml_pipeline = {"app": "ml-pipeline"}  # the KFP API server, in the kubeflow namespace
    assert admits(policies, "Egress", PIPELINE_RUN, ml_pipeline, "kubeflow", 8887)
    assert not admits(
        policies, "Egress", {"app.kubernetes.io/name": "skillrank-monitor"}, ml_pipeline, "kubeflow", 8887
    )


def test_the_evaluator_denies_what_no_rule_allows():
    deny = {"kind": "NetworkPolicy", "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    a, b = {"app.kubernetes.io/name": "a"}, {"app.kubernetes.io/name": "b"}
    assert allowed([], a, b, 80)
    assert not allowed([deny], a, b, 80)
    open_b = {
        "kind": "NetworkPolicy",
        "spec": {
            "podSelector": {"matchLabels": b},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": a}}], "ports": [{"port": 80}]}],
        },
    }
    open_a = {
        "kind": "NetworkPolicy",
        "spec": {
            "podSelector": {"matchLabels": a},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    }
    assert not allowed([deny, open_b], a, b, 80)  # the client's egress is still denied
    assert allowed([deny, open_b, open_a], a, b, 80)
    assert not allowed([deny, open_b, open_a], a, b, 81)
