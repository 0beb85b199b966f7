"""Roll the champion out: patch the KServe InferenceService in a cluster, or check it locally."""

from __future__ import annotations

from components.config import registry
from components.config.settings import Settings

KSERVE_GROUP, KSERVE_VERSION, KSERVE_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
VERSION_ANNOTATION = "skillrank.io/model-version"


def rollout_patch(model_name: str, version: str) -> dict:
    """The InferenceService patch that rolls both components onto champion `version`.

    The predictor loads ``models:/<name>@champion`` when it starts, so a new annotation on the pod
    templates is what makes KServe create a new revision that loads the new champion.

    Example:
        >>> rollout_patch("skillrank", "3")["spec"]["predictor"]["annotations"]
        {'skillrank.io/model-version': '3'}
    """
    annotations = {VERSION_ANNOTATION: version}
    return {
        "metadata": {"annotations": annotations | {"skillrank.io/model": model_name}},
        "spec": {"predictor": {"annotations": annotations}, "transformer": {"annotations": annotations}},
    }


def deploy_champion(settings: Settings, version: str, custom_objects_api=None) -> dict:
    """Roll champion `version` out; returns what was done.

    Args:
        settings: ``deploy_target`` ``kserve`` patches the InferenceService ``inference_service`` in
            ``namespace``; ``local`` changes nothing (the local servers load the champion at start).
        version: The registered version the `champion` alias points at (the promote step's model).
        custom_objects_api: A `kubernetes.client.CustomObjectsApi`; built from the in-cluster or
            kubeconfig credentials when omitted.

    Example:
        >>> deploy_champion(Settings(deploy_target="local"), "3")["uri"]
        'models:/skillrank@champion'
    """
    if settings.deploy_target == "local":
        return {
            "target": "local",
            "model_version": str(version),
            "uri": registry.model_uri(settings.model_name),
        }
    api = custom_objects_api or _custom_objects_api()
    api.patch_namespaced_custom_object(
        KSERVE_GROUP,
        KSERVE_VERSION,
        settings.namespace,
        KSERVE_PLURAL,
        settings.inference_service,
        rollout_patch(settings.model_name, str(version)),
    )
    return {
        "target": "kserve",
        "model_version": str(version),
        "inference_service": settings.inference_service,
    }


def _custom_objects_api():
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()
