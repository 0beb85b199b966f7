"""The roll-out of the champion: the InferenceService patch a recorded Kubernetes API receives, or none."""

from components.release.deploy import (
    KSERVE_GROUP,
    KSERVE_PLURAL,
    KSERVE_VERSION,
    VERSION_ANNOTATION,
    deploy_champion,
    rollout_patch,
)


class RecordedCustomObjectsApi:
    """Stands in for `kubernetes.client.CustomObjectsApi`: records each patch, answers like the server."""

    def __init__(self):
        self.patches: list[tuple] = []

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        self.patches.append((group, version, namespace, plural, name, body))
        return body


def test_in_a_cluster_the_inference_service_is_patched_to_the_champion_version(settings):
    cluster = settings.model_copy(
        update={"deploy_target": "kserve", "namespace": "ranking", "inference_service": "feed"}
    )
    api = RecordedCustomObjectsApi()
    done = deploy_champion(cluster, "7", custom_objects_api=api)
    assert api.patches == [
        (
            KSERVE_GROUP,
            KSERVE_VERSION,
            "ranking",
            KSERVE_PLURAL,
            "feed",
            rollout_patch(cluster.model_name, "7"),
        )
    ]
    assert api.patches[0][-1]["spec"]["predictor"]["annotations"] == {VERSION_ANNOTATION: "7"}
    assert done == {"target": "kserve", "model_version": "7", "inference_service": "feed"}


def test_locally_nothing_is_patched_and_the_alias_uri_is_reported(settings):
    api = RecordedCustomObjectsApi()
    done = deploy_champion(settings, "3", custom_objects_api=api)
    assert api.patches == []
    assert done == {"target": "local", "model_version": "3", "uri": f"models:/{settings.model_name}@champion"}
