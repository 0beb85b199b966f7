"""Every pod that the overlays run meets Pod Security "restricted" and skillrank's own hardening; RBAC grants
exactly what each identity uses; Redis demands a password; dev credentials are generated, never committed.

A test here fails when a manifest loses a security setting, a resource limit or an RBAC rule, or gains a
permission nobody uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from tests.manifests.rendering import KUBECTL, OVERLAYS, as_pods, find, pod_templates, render

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")

# Pod Security Standards, "restricted" profile (Kubernetes docs, pod-security-standards).
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Who may hold a Kubernetes API token: Kubeflow Pipelines runs and the Spark driver (it creates its
# executors), whose pods others write, so their accounts mount it; and the dev Job that generates the
# credentials, whose pod asks for it.
TOKEN_ACCOUNTS = {"skillrank-pipeline", "skillrank-spark"}
TOKEN_PODS = {"Job/skillrank-dev-secrets", "Pod/skillrank-features-driver"}
# Each workload's own identity.
SERVICE_ACCOUNTS = {
    "Deployment/mlflow": "mlflow",
    "StatefulSet/postgres": "postgres",
    "Deployment/redis": "redis",
    "Pod/skillrank-predictor": "skillrank-serving",
    "Pod/skillrank-transformer": "skillrank-serving",
    "CronJob/skillrank-features": "skillrank-features",
    "CronJob/skillrank-monitor": "skillrank-monitor",
    "Job/skillrank-dev-secrets": "skillrank-dev-secrets",
    "Job/skillrank-demo-export": "skillrank-demo-export",
    "Pod/skillrank-features-driver": "skillrank-spark",
    "Pod/skillrank-features-executor": "skillrank-features",
}
# Every permission granted, as (role, API group, resource, verb, resource name or "*" for any).
GRANTS = {
    # The deploy step rolls the champion out; KFP's driver and launcher and Argo's executor do the rest.
    ("skillrank-pipeline", "serving.kserve.io", "inferenceservices", "get", "*"),
    ("skillrank-pipeline", "serving.kserve.io", "inferenceservices", "patch", "*"),
    ("skillrank-pipeline", "argoproj.io", "workflows", "get", "*"),
    ("skillrank-pipeline", "argoproj.io", "workflowtaskresults", "create", "*"),
    ("skillrank-pipeline", "argoproj.io", "workflowtaskresults", "patch", "*"),
    ("skillrank-pipeline", "", "pods", "get", "*"),
    ("skillrank-pipeline", "", "configmaps", "get", "kfp-launcher"),
    ("skillrank-pipeline", "", "secrets", "get", "mlpipeline-minio-artifact"),
    # dev only: create the two Secrets if they are missing.
    ("skillrank-dev-secrets", "", "secrets", "create", "*"),
    ("skillrank-dev-secrets", "", "secrets", "get", "skillrank-postgres"),
    ("skillrank-dev-secrets", "", "secrets", "get", "skillrank-redis"),
} | {  # prod only: the Spark driver manages its executors.
    ("skillrank-spark", "", resource, verb, "*")
    for resource in ("pods", "configmaps", "services")
    for verb in ("get", "list", "watch", "create", "delete", "deletecollection")
}
# prod only (with the Spark Operator): the training pipeline's features step submits a SparkApplication
# from the installed ScheduledSparkApplication's template and waits for it.
SPARK_SUBMISSION = {
    ("skillrank-pipeline", "sparkoperator.k8s.io", "scheduledsparkapplications", "get", "skillrank-features"),
    ("skillrank-pipeline", "sparkoperator.k8s.io", "sparkapplications", "create", "*"),
    ("skillrank-pipeline", "sparkoperator.k8s.io", "sparkapplications", "get", "*"),
}
LONG_RUNNING = ("Deployment/", "StatefulSet/", "Pod/skillrank-predictor", "Pod/skillrank-transformer")


@pytest.fixture(scope="module", params=list(OVERLAYS), ids=list(OVERLAYS))
def objects(request) -> list[dict]:
    return render(OVERLAYS[request.param])


def running(objects: list[dict]):
    """(label, pod labels, pod spec, container) of every container of every pod the overlay runs."""
    for label, labels, pod in pod_templates(objects):
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield label, labels, pod, container


def test_namespace_enforces_pod_security_restricted(objects):
    labels = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode


def test_every_pod_meets_pod_security_restricted(objects):
    for label, _, pod, container in running(objects):
        where = f"{label}/{container['name']}"
        pod_context, context = pod.get("securityContext", {}), container.get("securityContext", {})
        effective = {**pod_context, **context}
        assert effective.get("runAsNonRoot") is True, where
        assert effective.get("runAsUser", 1) != 0, where
        assert effective.get("seccompProfile", {}).get("type") in {"RuntimeDefault", "Localhost"}, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("privileged", False) is False, where
        assert context.get("capabilities", {}).get("drop") == ["ALL"], where
        assert set(context.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, where
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), label
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUME_TYPES, f"{label}: volume {volume['name']} is {kinds}"


def test_every_root_filesystem_is_read_only_with_a_writable_tmp(objects):
    for label, _, pod, container in running(objects):
        where = f"{label}/{container['name']}"
        assert container["securityContext"].get("readOnlyRootFilesystem") is True, where
        writable = {
            v["name"] for v in pod.get("volumes", []) if "emptyDir" in v or "persistentVolumeClaim" in v
        }
        mounts = {
            m["mountPath"]: m["name"] for m in container.get("volumeMounts", []) if not m.get("readOnly")
        }
        assert mounts.get("/tmp") in writable, f"{where} has no writable /tmp"


def test_every_empty_dir_is_bounded(objects):
    for label, _, pod in pod_templates(objects):
        for volume in pod.get("volumes", []):
            if "emptyDir" in volume:
                assert volume["emptyDir"].get("sizeLimit"), f"{label}: emptyDir {volume['name']}"


def test_every_container_has_cpu_and_memory_limits(objects):
    for label, _, _, container in running(objects):
        limits = container.get("resources", {}).get("limits", {})
        assert {"cpu", "memory"} <= set(limits), f"{label}/{container['name']}: limits {limits}"


def test_long_running_containers_have_readiness_and_liveness_probes(objects):
    for label, _, _, container in running(objects):
        if label.startswith(LONG_RUNNING):
            assert "readinessProbe" in container and "livenessProbe" in container, label


def test_feed_servers_are_probed_on_kserve_health_endpoints(objects):
    for pod in (
        p for p in as_pods(objects) if "serving.kserve.io/inferenceservice" in p["metadata"]["labels"]
    ):
        [container] = pod["spec"]["containers"]
        # Ready means the model is loaded (KServe's /v2/health/ready is true as soon as it listens).
        assert container["readinessProbe"]["httpGet"] == {"path": "/v2/models/skillrank/ready", "port": 8080}
        assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}
        # Liveness counts only once the server is up: a slow model load is not a crash loop.
        startup = container["startupProbe"]
        assert startup["httpGet"] == {"path": "/v2/health/live", "port": 8080}
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_each_workload_runs_under_its_own_service_account(objects):
    seen = {}
    for label, _, pod in pod_templates(objects):
        seen[label] = pod.get("serviceAccountName")
    assert seen == {label: account for label, account in SERVICE_ACCOUNTS.items() if label in seen}
    assert None not in seen.values()  # nobody runs as `default`


def test_only_pods_that_call_the_api_mount_a_token(objects):
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    for name, account in accounts.items():
        assert account.get("automountServiceAccountToken") is (name in TOKEN_ACCOUNTS), name
    for label, _, pod in pod_templates(objects):
        expected = label in TOKEN_PODS
        account = accounts[pod["serviceAccountName"]]
        mounts = pod.get("automountServiceAccountToken", account.get("automountServiceAccountToken", True))
        assert mounts is expected, f"{label} mounts a token: {mounts}"


def granted(objects: list[dict]) -> set[tuple[str, str, str, str, str]]:
    return {
        (role["metadata"]["name"], group, resource, verb, name)
        for role in objects
        if role["kind"] in {"Role", "ClusterRole"}
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames", ["*"])
    }


def test_roles_grant_exactly_what_each_identity_uses(objects):
    grants = granted(objects)
    roles = {g[0] for g in grants}
    expected = {g for g in GRANTS if g[0] in roles}
    if "skillrank-spark" in roles:  # the overlay runs the Spark Operator
        expected |= SPARK_SUBMISSION
    assert grants == expected
    assert not any(o["kind"] in {"ClusterRole", "ClusterRoleBinding"} for o in objects)


def test_no_role_creates_inference_services_or_lists_secrets(objects):
    for role, group, resource, verb, _ in granted(objects):
        assert "*" not in (group, resource, verb), role
        assert (resource, verb) != ("inferenceservices", "create"), role
        assert not (resource == "secrets" and verb in {"list", "watch"}), role


def test_role_bindings_bind_the_role_to_its_service_account_in_the_namespace(objects):
    for binding in (o for o in objects if o["kind"] == "RoleBinding"):
        name, namespace = binding["metadata"]["name"], binding["metadata"]["namespace"]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        find(objects, "Role", name)
        find(objects, "ServiceAccount", name)


def test_the_security_checks_catch_a_lost_setting():
    pod = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "serviceAccountName": "x",
    }
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"template": {"metadata": {"labels": {}}, "spec": pod}},
    }
    test_every_pod_meets_pod_security_restricted([deployment])
    with pytest.raises(AssertionError, match="readOnly|assert"):
        test_every_root_filesystem_is_read_only_with_a_writable_tmp([deployment])
    with pytest.raises(AssertionError, match="limits"):
        test_every_container_has_cpu_and_memory_limits([deployment])


# --- Redis wants a password, and never shows it ------------------------------------------------------


def test_redis_requires_the_password_of_its_secret_and_keeps_it_out_of_argv(tmp_path):
    [container] = find(render(OVERLAYS["dev"]), "Deployment", "redis")["spec"]["template"]["spec"][
        "containers"
    ]
    [env] = container["env"]
    assert env == {
        "name": "REDISCLI_AUTH",
        "valueFrom": {"secretKeyRef": {"name": "skillrank-redis", "key": "password"}},
    }
    # Run the container's command with a stand-in redis-server that reports its argv and its stdin.
    stub = tmp_path / "redis-server"
    stub.write_text('#!/bin/sh\necho "argv: $*"\necho "stdin:"\ncat\n')
    stub.chmod(0o755)
    result = subprocess.run(
        container["command"] + container["args"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "REDISCLI_AUTH": "s3cret-from-the-secret"},
        capture_output=True,
        text=True,
        check=True,
    )
    argv, stdin = result.stdout.split("stdin:\n")
    assert "requirepass s3cret-from-the-secret" in stdin
    assert "s3cret" not in argv and "--save" in argv
    assert container["readinessProbe"]["exec"]["command"] == ["sh", "-c", "redis-cli ping | grep -q PONG"]


# --- dev credentials: generated in the cluster, kept once they exist ---------------------------------


class FakeApi:
    """A recorded double of the CoreV1Api calls the credentials Job makes."""

    def __init__(self, existing: set[str], status: int = 404):
        self.existing, self.status, self.created = existing, status, []

    def read_namespaced_secret(self, name, namespace):
        if name not in self.existing:
            raise FakeApiException(self.status)
        return object()

    def create_namespaced_secret(self, namespace, body):
        self.created.append((namespace, body))


class FakeApiException(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def run_credentials_job(monkeypatch, api: FakeApi) -> list:
    """Run the Job's script against `api`, with the environment its manifest gives it."""
    [container] = find(render(OVERLAYS["dev"]), "Job", "skillrank-dev-secrets")["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["command"] == ["python", "-c"]
    import kubernetes.client

    client = types.SimpleNamespace(
        CoreV1Api=lambda: api,
        ApiException=FakeApiException,
        V1Secret=kubernetes.client.V1Secret,
        V1ObjectMeta=kubernetes.client.V1ObjectMeta,
    )
    package = types.ModuleType("kubernetes")
    package.client, package.config = client, types.SimpleNamespace(load_incluster_config=lambda: None)
    monkeypatch.setitem(sys.modules, "kubernetes", package)
    env = {e["name"]: e.get("value") for e in container["env"]} | {"POD_NAMESPACE": "ns-under-test"}
    monkeypatch.setattr(os, "environ", {**os.environ, **env})
    exec(compile(container["args"][0], "dev-secrets", "exec"), {"__name__": "__main__"})
    return api.created


def test_credentials_job_creates_both_secrets_with_random_url_safe_passwords(monkeypatch):
    created = run_credentials_job(monkeypatch, FakeApi(existing=set()))
    assert [(ns, body.metadata.name) for ns, body in created] == [
        ("ns-under-test", "skillrank-postgres"),
        ("ns-under-test", "skillrank-redis"),
    ]
    passwords = [body.string_data["password"] for _, body in created]
    assert len(set(passwords)) == 2
    assert all(len(p) == 48 and p.isalnum() for p in passwords)  # safe in URLs and Redis' connection string


def test_credentials_job_keeps_secrets_that_exist(monkeypatch):
    created = run_credentials_job(monkeypatch, FakeApi(existing={"skillrank-postgres"}))
    assert [body.metadata.name for _, body in created] == ["skillrank-redis"]


def test_credentials_job_fails_on_any_other_api_error(monkeypatch):
    with pytest.raises(FakeApiException):
        run_credentials_job(monkeypatch, FakeApi(existing=set(), status=403))


def test_credentials_job_creates_the_secrets_the_pods_read():
    objects = render(OVERLAYS["dev"])
    [container] = find(objects, "Job", "skillrank-dev-secrets")["spec"]["template"]["spec"]["containers"]
    names = {e["name"]: e.get("value") for e in container["env"]}["SECRET_NAMES"].split()
    read = {
        ref["name"]
        for _, _, _, c in running(objects)
        for e in c.get("env", [])
        for ref in [e.get("valueFrom", {}).get("secretKeyRef")]
        if ref
    }
    assert set(names) == read
