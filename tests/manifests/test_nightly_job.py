"""The nightly feature refresh runs as its CronJob says: its command, with exactly the environment of its
manifest (the ConfigMap through envFrom, then its `env` with the Secrets' values and the downward API,
references expanded as the kubelet expands them), against a platform export.

Only what is outside the pod is mapped onto this machine: its volumes to tmp_path (the export is the
hand-built one of tests/handworld.py), the Service names `redis` and `postgres` to a Redis started here
the way the redis Deployment starts it (password from its Secret) and to a fresh database of the local
PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests import handworld
from tests.manifests.rendering import KUBECTL, OVERLAYS, find, render

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests"),
]

POSTGRES = ("127.0.0.1", 5432)
REDIS_SERVER = shutil.which("redis-server")
REFERENCE = re.compile(r"\$\((\w+)\)")
NAMESPACE = "skillrank"


def kubelet_environment(container: dict, config_maps: dict, secret_values: dict, namespace: str) -> dict:
    """The environment Kubernetes gives `container`: envFrom first, then `env` in order, where $(VAR)
    expands from the variables defined before it (an unknown reference stays as written)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), entry["value"])
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secret_values[ref["name"]][ref["key"]]
        else:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
            env[entry["name"]] = namespace
    return env


def reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_objects() -> list[dict]:
    return render(OVERLAYS["root"])  # what `kubectl apply -k .` installs


@pytest.fixture(scope="module")
def passwords() -> dict:
    """Values of the Secrets, as the dev overlay's Job generates them."""
    return {name: {"password": secrets.token_hex(24)} for name in ("skillrank-postgres", "skillrank-redis")}


@pytest.fixture(scope="module")
def redis_service(cluster_objects, passwords, tmp_path_factory):
    """Redis run with the redis Deployment's own command and environment, on a free local port."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed here")
    [container] = find(cluster_objects, "Deployment", "redis")["spec"]["template"]["spec"]["containers"]
    env = kubelet_environment(container, {}, passwords, NAMESPACE)
    port, bin_dir = free_port(), tmp_path_factory.mktemp("redis-bin")
    wrapper = bin_dir / "redis-server"  # the image's redis-server, listening on this test's port
    wrapper.write_text(f'#!/bin/sh\nexec {REDIS_SERVER} "$@" --port {port} --bind 127.0.0.1\n')
    wrapper.chmod(0o755)
    server = subprocess.Popen(
        container["command"] + container["args"],
        env={**env, "PATH": f"{bin_dir}:/usr/bin:/bin"},
        cwd=tmp_path_factory.mktemp("redis-data"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not reachable(("127.0.0.1", port)):
        assert server.poll() is None and time.monotonic() < deadline, "redis did not start"
        time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres_service():
    """A fresh database on the local PostgreSQL (trust auth), owned by the manifests' user `skillrank`."""
    if not reachable(POSTGRES):
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is needed")
    import psycopg2

    name = f"skillrank_nightly_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="postgres")
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'skillrank'")
    created_role = cursor.fetchone() is None
    if created_role:
        cursor.execute("CREATE ROLE skillrank LOGIN")
    cursor.execute(f"CREATE DATABASE {name} OWNER skillrank")
    yield f"{POSTGRES[0]}:{POSTGRES[1]}/{name}"
    cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")
    if created_role:
        cursor.execute("DROP ROLE skillrank")
    admin.close()


def on_this_machine(env: dict, paths: dict[str, Path], redis: str, postgres: str) -> dict:
    """The pod's environment with its mount paths and Service addresses mapped onto this machine."""
    mapped = {}
    for key, value in env.items():
        for mount, local in paths.items():
            if value == mount or value.startswith(f"{mount}/"):
                value = str(local) + value[len(mount) :]
                break
        value = value.replace("@postgres:5432/feast", f"@{postgres}").replace("redis:6379", redis)
        mapped[key] = value
    return mapped


def test_nightly_features_job_runs_with_its_manifest_environment(
    cluster_objects, passwords, redis_service, postgres_service, tmp_path
):
    cron = find(cluster_objects, "CronJob", "skillrank-features")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    config_maps = {"skillrank-config": find(cluster_objects, "ConfigMap", "skillrank-config")["data"]}
    env = kubelet_environment(container, config_maps, passwords, NAMESPACE)
    # The Secrets reach the URLs; the ConfigMap holds none of them.
    redis_password = passwords["skillrank-redis"]["password"]
    postgres_password = passwords["skillrank-postgres"]["password"]
    assert env["SKILLRANK_REDIS_CONNECTION_STRING"] == f"redis:6379,password={redis_password}"
    assert env["SKILLRANK_FEAST_REGISTRY"] == (
        f"postgresql+psycopg://skillrank:{postgres_password}@postgres:5432/feast"
    )
    assert env["SKILLRANK_SOURCE"] == "/export" and env["SKILLRANK_NAMESPACE"] == NAMESPACE

    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    paths = {mount: tmp_path / mount.strip("/") for mount in mounts}
    for local in paths.values():
        local.mkdir()
    handworld.write_export(paths["/export"])  # the platform's export, on the read-only volume
    (paths["/export"]).chmod(0o555)

    image_env = {  # what the Dockerfile's ENV gives every container, for this machine's interpreter
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "HOME": str(paths["/tmp"]),
        "TMPDIR": str(paths["/tmp"]),
        **({"JAVA_HOME": os.environ["JAVA_HOME"]} if "JAVA_HOME" in os.environ else {}),
    }
    result = subprocess.run(
        container["command"] + container.get("args", []),
        env=image_env | on_this_machine(env, paths, redis_service, postgres_service),
        cwd=paths["/tmp"],  # the image's WORKDIR
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 3, result.stdout  # ingest, the Spark feature job, the Feast publish
    ingest, features, publish = reports
    assert all(table["input"] == table["clean"] + table["quarantined"] for table in ingest.values()), ingest
    assert features["accounts"] > 0 and publish["latest_as_of"].startswith("2020-")
    assert (paths["/data"] / "features").is_dir()
    import redis

    host, port = redis_service.split(":")
    store = redis.Redis(host=host, port=int(port), password=redis_password)
    assert store.dbsize() > 0  # the online store was filled, through the password
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=host, port=int(port)).dbsize()
