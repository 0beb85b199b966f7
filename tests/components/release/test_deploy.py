"""The roll-out of the champion, against a recorded double of the Kubernetes API served over HTTP.

The double answers the requests `kubernetes.client.CustomObjectsApi` sends, as an API server does for
the InferenceService of manifests/base (GET, JSON merge patch by RFC 7386, a new generation when the
spec changes, Status bodies for 404 and 403), and records each request; the deploy step talks to it
through the real client, so the paths, the verbs and the patch's content type are the ones a cluster
receives.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from components.errors import DataError
from components.release.deploy import (
    KSERVE_GROUP,
    KSERVE_PLURAL,
    KSERVE_VERSION,
    VERSION_ANNOTATION,
    deploy_champion,
)
from tests.kubernetes_double import KubernetesApiDouble, status

MANIFEST = Path(__file__).resolve().parents[3] / "manifests" / "base" / "inferenceservice.yaml"
ROUTE = re.compile(
    rf"^/apis/{re.escape(KSERVE_GROUP)}/{KSERVE_VERSION}/namespaces/(?P<ns>[^/]+)/{KSERVE_PLURAL}/(?P<name>[^/?]+)$"
)
MERGE_PATCH = "application/merge-patch+json"


def merge_patch(target, patch):
    """RFC 7386: objects merge key by key, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class InferenceServiceApi(KubernetesApiDouble):
    """InferenceServices by (namespace, name), the namespaces that refuse the caller, and every request."""

    def __init__(self, objects: dict[tuple[str, str], dict], forbidden: frozenset[str] = frozenset()):
        super().__init__()
        self.objects, self.forbidden, self.requests = objects, forbidden, []

    def answer(self, method, path, body, headers) -> tuple[int, dict]:
        content_type = headers.get("Content-Type")
        self.requests.append((method, path, content_type, body))
        match = ROUTE.match(path)
        if match is None:
            return 404, status(404, "NotFound", f"no route {path}")
        key = (match["ns"], match["name"])
        if key[0] in self.forbidden:
            return 403, status(403, "Forbidden", "inferenceservices is forbidden")
        if key not in self.objects:
            return 404, status(404, "NotFound", f'inferenceservices "{key[1]}" not found')
        if method == "PATCH":
            if content_type != MERGE_PATCH:
                return 415, status(415, "UnsupportedMediaType", content_type)
            before = self.objects[key]
            after = merge_patch(before, body)
            after["metadata"]["resourceVersion"] = str(int(before["metadata"]["resourceVersion"]) + 1)
            if after["spec"] != before["spec"]:
                after["metadata"]["generation"] = before["metadata"]["generation"] + 1
            self.objects[key] = after
        return 200, self.objects[key]


def installed(namespace: str, predictor_args: list[str] | None = None) -> dict[tuple[str, str], dict]:
    """The InferenceService of manifests/base as the API server holds it after `kubectl apply`."""
    isvc = yaml.safe_load(MANIFEST.read_text())
    isvc["metadata"] |= {"namespace": namespace, "generation": 1, "resourceVersion": "100"}
    if predictor_args is not None:
        isvc["spec"]["predictor"]["containers"][0]["args"] = predictor_args
    return {(namespace, isvc["metadata"]["name"]): isvc}


@pytest.fixture
def cluster(settings):
    return settings.model_copy(
        update={"deploy_target": "kserve", "namespace": "team-a", "inference_service": "skillrank"}
    )


def test_the_patch_rolls_both_pod_templates_onto_the_champion_and_keeps_the_rest(cluster):
    with InferenceServiceApi(installed("team-a")) as api:
        before = copy.deepcopy(api.objects[("team-a", "skillrank")])
        done = deploy_champion(cluster, "7", custom_objects_api=api.client())
        after = api.objects[("team-a", "skillrank")]
    path = f"/apis/{KSERVE_GROUP}/{KSERVE_VERSION}/namespaces/team-a/{KSERVE_PLURAL}/skillrank"
    assert [(method, p) for method, p, _, _ in api.requests] == [("GET", path), ("PATCH", path)]
    assert api.requests[1][2] == MERGE_PATCH
    for component in ("predictor", "transformer"):
        annotations = after["spec"][component]["annotations"]
        assert annotations == before["spec"][component]["annotations"] | {VERSION_ANNOTATION: "7"}
        assert after["spec"][component]["containers"] == before["spec"][component]["containers"]
    assert after["metadata"]["annotations"][VERSION_ANNOTATION] == "7"
    assert after["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert after["metadata"]["generation"] == 2  # a new spec: KServe rolls new pods
    assert done == {
        "target": "kserve",
        "model_version": "7",
        "uri": f"models:/{cluster.model_name}@champion",
        "namespace": "team-a",
        "inference_service": "skillrank",
        "generation": 2,
    }


def test_each_new_champion_makes_a_new_generation(cluster):
    with InferenceServiceApi(installed("team-a")) as api:
        generations = [deploy_champion(cluster, v, api.client())["generation"] for v in ("7", "8", "8")]
    assert generations == [2, 3, 3]  # the same version again changes nothing


def test_a_missing_inference_service_says_to_install_the_manifests(cluster):
    with InferenceServiceApi(installed("elsewhere")) as api, pytest.raises(DataError, match="kubectl apply"):
        deploy_champion(cluster, "7", custom_objects_api=api.client())
    assert [method for method, *_ in api.requests] == ["GET"]


def test_a_refusal_names_the_service_account_runs_need(cluster):
    with (
        InferenceServiceApi(installed("team-a"), forbidden=frozenset({"team-a"})) as api,
        pytest.raises(DataError, match="skillrank-pipeline"),
    ):
        deploy_champion(cluster, "7", custom_objects_api=api.client())


def test_a_predictor_pinned_to_another_model_is_not_patched(cluster):
    pinned = ["--model_name", "skillrank", "--model_uri", "models:/skillrank/2"]
    with (
        InferenceServiceApi(installed("team-a", pinned)) as api,
        pytest.raises(DataError, match="models:/skillrank/2"),
    ):
        deploy_champion(cluster, "7", custom_objects_api=api.client())
    assert [method for method, *_ in api.requests] == ["GET"]


def test_locally_nothing_is_patched_and_the_alias_uri_is_reported(settings):
    with InferenceServiceApi(installed("skillrank")) as api:
        done = deploy_champion(settings, "3", custom_objects_api=api.client())
    assert api.requests == []
    assert done == {"target": "local", "model_version": "3", "uri": f"models:/{settings.model_name}@champion"}
