"""Roll the champion out: patch the KServe InferenceService in a cluster, or check it locally.

The model reaches the feed by the MLflow registry URI the predictor resolves,
``models:/<name>@champion``, not by a KServe ``storageUri``: the alias that the gate moves is then the
one statement of what is served (a rollback moves it back), the predictor reads the version's scoring
constants from the same registry entry, and it follows the alias while it runs. A ``storageUri``
would have to name where MLflow happens to keep the files (a path inside its artifact store, which
KServe's storage initializer cannot resolve from a ``models:/`` URI), and would add that
initializer's container to pods that Pod Security "restricted" admits.

So the patch changes no model reference: it records the version on the InferenceService and on the
pod templates of both components, which makes KServe roll new pods that load it. A merge patch of
annotations leaves every other field, the container lists included, as the manifests set them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from components.config import registry
from components.config.settings import Settings
from components.errors import DataError

KSERVE_GROUP, KSERVE_VERSION, KSERVE_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
VERSION_ANNOTATION = "skillrank.io/model-version"
MODEL_ANNOTATION = "skillrank.io/model"
URI_FLAG = "--model_uri"


def rollout_patch(model_name: str, version: str) -> dict:
    """The InferenceService merge patch that rolls both components onto champion `version`.

    The predictor loads ``models:/<name>@champion`` when it starts, so a new annotation on the pod
    templates is what makes KServe create new pods that load the new champion.

    Example:
        >>> rollout_patch("skillrank", "3")["spec"]["predictor"]["annotations"]
        {'skillrank.io/model-version': '3'}
    """
    annotations = {VERSION_ANNOTATION: version}
    return {
        "metadata": {"annotations": annotations | {MODEL_ANNOTATION: registry.model_uri(model_name)}},
        "spec": {"predictor": {"annotations": annotations}, "transformer": {"annotations": annotations}},
    }


def served_uri(inference_service: dict, model_name: str) -> str:
    """The registry URI the InferenceService's predictor resolves: its ``--model_uri``, else the alias.

    Example:
        >>> isvc = {"spec": {"predictor": {"containers": [{"args": ["--model_uri", "models:/m/2"]}]}}}
        >>> served_uri(isvc, "m")
        'models:/m/2'
    """
    args = [
        arg
        for container in inference_service.get("spec", {}).get("predictor", {}).get("containers", [])
        for arg in container.get("command", [])[1:] + container.get("args", [])
    ]
    for i, arg in enumerate(args):
        if arg == URI_FLAG and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(URI_FLAG + "="):
            return arg.split("=", 1)[1]
    return registry.model_uri(model_name)


def deploy_champion(settings: Settings, version: str, custom_objects_api=None) -> dict:
    """Roll champion `version` out; returns what was done.

    Args:
        settings: ``deploy_target`` ``kserve`` patches the InferenceService ``inference_service`` in
            ``namespace`` (in a pipeline step, the run's own, from the downward API); ``local``
            changes nothing (the local servers load the champion at start).
        version: The registered version the `champion` alias points at (the promote step's model).
        custom_objects_api: A `kubernetes.client.CustomObjectsApi`; built from the in-cluster or
            kubeconfig credentials when omitted.

    Raises:
        DataError: The InferenceService is not there, the run's identity may not read or patch it, or
            its predictor is pinned to another model than the champion alias.

    Example:
        >>> deploy_champion(Settings(deploy_target="local"), "3")["uri"]
        'models:/skillrank@champion'
    """
    uri = registry.model_uri(settings.model_name)
    if settings.deploy_target == "local":
        return {"target": "local", "model_version": str(version), "uri": uri}
    api = custom_objects_api or kubernetes_custom_objects_api()
    where = (KSERVE_GROUP, KSERVE_VERSION, settings.namespace, KSERVE_PLURAL, settings.inference_service)
    with _explained(settings):
        current = api.get_namespaced_custom_object(*where)
        pinned = served_uri(current, settings.model_name)
        if pinned != uri:
            raise DataError(
                f"the InferenceService {settings.namespace}/{settings.inference_service} serves {pinned}, "
                f"not the champion {uri}: remove {URI_FLAG} from its predictor"
            )
        patched = api.patch_namespaced_custom_object(*where, rollout_patch(settings.model_name, str(version)))
    return {
        "target": "kserve",
        "model_version": str(version),
        "uri": uri,
        "namespace": settings.namespace,
        "inference_service": settings.inference_service,
        "generation": patched.get("metadata", {}).get("generation"),
    }


@contextlib.contextmanager
def _explained(settings: Settings) -> Iterator[None]:
    """Turn the Kubernetes API's refusals into errors that say what to fix."""
    from kubernetes.client.exceptions import ApiException

    target = f"InferenceService {settings.namespace}/{settings.inference_service}"
    try:
        yield
    except ApiException as e:
        if e.status == 404:
            raise DataError(
                f"no {target}: install the manifests there first (kubectl apply -k .), or set "
                "SKILLRANK_NAMESPACE and SKILLRANK_INFERENCE_SERVICE to the one that serves the feed"
            ) from e
        if e.status in (401, 403):
            raise DataError(
                f"the run may not get and patch {target} ({e.status} {e.reason}): create the run "
                "with the ServiceAccount skillrank-pipeline (docs/DEPLOY.md)"
            ) from e
        raise


def kubernetes_custom_objects_api():
    """A CustomObjectsApi with the pod's ServiceAccount token in a cluster, else the kubeconfig's."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()
