"""The training pipeline: ingest -> features -> Feast -> walk-forward training -> gate -> deploy -> scores.

Steps hand each other typed artifacts (Datasets, Models, the training outcome), so the Kubeflow UI shows
the lineage from the clean tables to the scores; `.after` orders a step behind one whose output it reads
from the data root or the registry rather than from an artifact (train after publish: the Feast
registry; scores after the roll-out). The gate branches with `dsl.If`: only a challenger that beats
the baseline and the champion is promoted and deployed; either way the scores/ table is written with
the model the feed serves, and the drift monitor runs last.

In a cluster (docs/DEPLOY.md) a run executes in the namespace skillrank is installed in (a Kubeflow
profile's namespace in multi-user mode) under its ServiceAccount ``skillrank-pipeline``, both chosen
when the run is created, not here. Each step mounts the data volume, reads its settings from the
ConfigMap, the passwords from the Secrets and its own namespace from the downward API; the names of
the volumes, the ConfigMap and the Secrets are run parameters whose defaults are the manifests'.
The local runner ignores all of this.
"""

from dataclasses import dataclass

from kfp import dsl, kubernetes

from components.kfp_ops import (
    deploy_op,
    features_op,
    gate_op,
    ingest_op,
    promote_op,
    publish_op,
    scores_op,
    served_model_op,
    train_op,
)
from monitoring.kfp_ops import monitor_op

PIPELINE_NAME = "skillrank-training"

# manifests/base: the data root is a shared volume, the platform's export another; settings come from
# the ConfigMap (its SKILLRANK_DATA_ROOT and SKILLRANK_SOURCE are these mount paths), the database and
# online-store passwords from the Secrets, which Settings splices into the URLs that name them.
DATA_VOLUME, DATA_MOUNT = "skillrank-data", "/data"
EXPORT_VOLUME, EXPORT_MOUNT = "skillrank-export", "/export"
CONFIG_MAP = "skillrank-config"
POSTGRES_SECRET, REDIS_SECRET = "skillrank-postgres", "skillrank-redis"
SECRET_KEY = "password"
CONFIG_KEYS = (
    "SKILLRANK_DATA_ROOT",
    "SKILLRANK_SOURCE",
    "SKILLRANK_ONLINE_STORE",
    "SKILLRANK_REDIS_CONNECTION_STRING",
    "SKILLRANK_MLFLOW_TRACKING_URI",
    "SKILLRANK_FEAST_REGISTRY",
    "SKILLRANK_DEPLOY_TARGET",
    "SKILLRANK_INFERENCE_SERVICE",
    "FEAST_USAGE",
    "MPLCONFIGDIR",
)
NAMESPACE_ENV = "SKILLRANK_NAMESPACE"
RUN_AS = 10001  # the image's user and group (Dockerfile), as every skillrank pod runs


@dataclass(frozen=True)
class Resources:
    """A step's CPU and memory requests and limits, in Kubernetes quantities."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


# Per step: peak memory of the step's process tree measured on simulated worlds of 1,000 and 3,000
# accounts (2019-2021), extrapolated linearly in accounts to 20,000; requests at or above that
# estimate, limits with room (docs/DEPLOY.md, "Sizing the steps"). Spark's driver holds a 4 GiB heap at
# any size; LightGBM trains on 2 threads.
STEP_RESOURCES = {
    "ingest-op": Resources("1", "2", "4Gi", "6Gi"),
    "features-op": Resources("2", "4", "6Gi", "8Gi"),
    "publish-op": Resources("500m", "1", "1536Mi", "3Gi"),
    "train-op": Resources("2", "3", "6Gi", "8Gi"),
    "gate-op": Resources("250m", "1", "512Mi", "1Gi"),
    "promote-op": Resources("250m", "1", "512Mi", "1Gi"),
    "deploy-op": Resources("250m", "1", "512Mi", "1Gi"),
    "served-model-op": Resources("250m", "1", "512Mi", "1Gi"),
    "scores-op": Resources("1", "2", "2Gi", "4Gi"),
    "monitor-op": Resources("1", "2", "4Gi", "8Gi"),
}


@dataclass(frozen=True)
class ClusterNames:
    """The run's parameters that name the Kubernetes objects its steps use."""

    data_volume: str
    export_volume: str
    config_map: str
    postgres_secret: str
    redis_secret: str

    def passwords(self) -> tuple[tuple[str, str], ...]:
        """(Secret, variable) of each password that a URL in the ConfigMap names as ``$(VARIABLE)``."""
        return ((self.postgres_secret, "POSTGRES_PASSWORD"), (self.redis_secret, "REDIS_PASSWORD"))


def in_cluster(
    task: dsl.PipelineTask, names: ClusterNames, resources: dict[str, Resources] = STEP_RESOURCES
) -> dsl.PipelineTask:
    """Wire `task` for a cluster: volume, settings, passwords, namespace, identity, size; no caching.

    Every step writes to the data root or the registry, or reads what others changed there (its
    inputs are paths and manifests, not the data), so none is ever served from KFP's cache. Its size
    is ``resources[<component name>]`` (each pipeline has its own table).
    """
    kubernetes.mount_pvc(task, pvc_name=names.data_volume, mount_path=DATA_MOUNT)
    kubernetes.use_config_map_as_env(
        task, config_map_name=names.config_map, config_map_key_to_env={k: k for k in CONFIG_KEYS}
    )
    for secret, variable in names.passwords():
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env={SECRET_KEY: variable})
    kubernetes.use_field_path_as_env(task, NAMESPACE_ENV, "metadata.namespace")
    kubernetes.set_security_context(task, run_as_user=RUN_AS, run_as_group=RUN_AS, run_as_non_root=True)
    size = resources[task.component_spec.name]
    task.set_cpu_request(size.cpu_request).set_cpu_limit(size.cpu_limit)
    task.set_memory_request(size.memory_request).set_memory_limit(size.memory_limit)
    return task.set_caching_options(False)


@dsl.pipeline(
    name=PIPELINE_NAME, description="Rank investors by skill: features, walk-forward LightGBM, gate."
)
def training_pipeline(
    source: str = "",
    data_root: str = DATA_MOUNT,
    config_file: str = "",
    data_volume: str = DATA_VOLUME,
    export_volume: str = EXPORT_VOLUME,
    config_map: str = CONFIG_MAP,
    postgres_secret: str = POSTGRES_SECRET,
    redis_secret: str = REDIS_SECRET,
) -> None:
    """Train, gate and deploy the ranker on the platform tables in `source`.

    Args:
        source: Directory of platform tables in the data contract (read only); empty: the settings'
            ``SKILLRANK_SOURCE`` (in a cluster, the export volume at ``/export``).
        data_root: Where every output goes (in a cluster, the data volume at ``/data``).
        config_file: Optional YAML settings file; environment variables ``SKILLRANK_*`` also apply.
        data_volume: The PersistentVolumeClaim of the data root.
        export_volume: The PersistentVolumeClaim of the platform's export, mounted for ingest.
        config_map: The ConfigMap of ``SKILLRANK_*`` settings.
        postgres_secret: The Secret whose ``password`` the Feast registry URL needs.
        redis_secret: The Secret whose ``password`` the online store's connection string needs.
    """
    names = ClusterNames(data_volume, export_volume, config_map, postgres_secret, redis_secret)
    step_args = {"data_root": data_root, "config_file": config_file}
    ingest_task = in_cluster(ingest_op(source=source, **step_args), names)
    kubernetes.mount_pvc(ingest_task, pvc_name=export_volume, mount_path=EXPORT_MOUNT)
    features_task = in_cluster(features_op(clean=ingest_task.outputs["clean"], **step_args), names)
    features, labels = features_task.outputs["features"], features_task.outputs["labels"]
    publish_task = in_cluster(publish_op(features=features, **step_args), names)
    train_task = in_cluster(
        train_op(features=features, labels=labels, **step_args).after(publish_task), names
    )
    predictions = train_task.outputs["predictions"]
    gate_task = in_cluster(gate_op(outcome=train_task.outputs["outcome"], **step_args), names)
    with dsl.If(gate_task.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712 (KFP condition)
        promote_task = in_cluster(promote_op(model=train_task.outputs["model"], **step_args), names)
        champion = promote_task.outputs["champion"]
        deploy_task = in_cluster(deploy_op(champion=champion, **step_args), names)
        promoted_scores_task = in_cluster(
            scores_op(features=features, predictions=predictions, served=champion, **step_args).after(
                deploy_task
            ),
            names,
        )
        in_cluster(
            monitor_op(features=features, served=champion, **step_args).after(promoted_scores_task), names
        )
    with dsl.Else(name="champion-stays"):
        served = in_cluster(served_model_op(**step_args), names).outputs["served"]
        kept_scores_task = in_cluster(
            scores_op(features=features, predictions=predictions, served=served, **step_args), names
        )
        in_cluster(monitor_op(features=features, served=served, **step_args).after(kept_scores_task), names)
