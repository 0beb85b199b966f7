"""What a platform team's scanners say about every overlay, the pods of its custom resources included.

`kubernetes-validate --strict` checks the built-in objects against the Kubernetes schemas it ships (no
network); checkov scans the rendered objects plus the InferenceService's predictor and transformer and the
Spark driver and executor written out as Pods (checkov does not read custom resources). Every skip is an
annotation `checkov.io/skip<N>: <check>=<reason>` on the object, and must give its reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.manifests.rendering import KUBECTL, OVERLAYS, as_pods, render

CHECKOV = shutil.which("checkov") or shutil.which("checkov", path=str(Path(sys.executable).parent))
# The oldest Kubernetes the manifests support (CronJob timeZone is GA in 1.27; KServe 0.16 needs newer).
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CUSTOM_KINDS = {"InferenceService", "ScheduledSparkApplication"}

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: cannot render the manifests")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_built_in_objects_pass_kubernetes_validate_strict(overlay, version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objects = render(OVERLAYS[overlay])
    checked = 0
    for obj in objects + as_pods(objects):
        if obj["kind"] in CUSTOM_KINDS:
            continue  # checked against the KServe client's models and the Spark CRD in test_manifests
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 30


def checkov_report(objects: list[dict], workdir: Path) -> dict:
    scanned = workdir / "rendered.yaml"
    pods = as_pods(objects)
    scanned.write_text(yaml.safe_dump_all([o for o in objects if o["kind"] not in CUSTOM_KINDS] + pods))
    result = subprocess.run(
        [CHECKOV, "--framework", "kubernetes", "--output", "json", "--file", str(scanned)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(
    CHECKOV is None, reason="checkov is not installed (pip install checkov, in a venv of its own)"
)
@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_checkov_finds_nothing_and_every_skip_says_why(overlay, tmp_path):
    report = checkov_report(render(OVERLAYS[overlay]), tmp_path)
    results = report.get("results", {})
    failed = [(c["check_id"], c["resource"]) for c in results.get("failed_checks", [])]
    assert failed == []
    for check in results.get("skipped_checks", []):
        assert len(check["check_result"].get("suppress_comment", "")) > 20, (
            check["check_id"],
            check["resource"],
        )
    pods = {c["resource"] for c in results.get("passed_checks", []) if c["resource"].startswith("Pod.")}
    assert {p for p in pods if "predictor" in p} and {p for p in pods if "transformer" in p}
