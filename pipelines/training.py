"""The training pipeline: ingest -> features -> Feast -> walk-forward training -> gate -> deploy -> scores.

Steps hand each other typed artifacts (Datasets, Models, the training outcome), so the Kubeflow UI shows
the lineage from the clean tables to the scores; `.after` orders a step behind one whose output it reads
from the data root or the registry rather than from an artifact (train after publish: the Feast
registry; scores after the roll-out). The gate branches with `dsl.If`: only a challenger that beats
the baseline and the champion is promoted and deployed; either way the scores/ table is written with
the model the feed serves, and the drift monitor runs last.
"""

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

# Cluster wiring (manifests/base): the data root is a shared volume, settings come from the ConfigMap
# and the database password from the Secret. The local runner ignores these.
DATA_VOLUME, DATA_MOUNT = "skillrank-data", "/data"
CONFIG_MAP, SECRET = "skillrank-config", "skillrank-postgres"
CONFIG_KEYS = (
    "SKILLRANK_DATA_ROOT",
    "SKILLRANK_ONLINE_STORE",
    "SKILLRANK_REDIS_CONNECTION_STRING",
    "SKILLRANK_MLFLOW_TRACKING_URI",
    "SKILLRANK_FEAST_REGISTRY",
    "SKILLRANK_DEPLOY_TARGET",
    "SKILLRANK_NAMESPACE",
    "SKILLRANK_INFERENCE_SERVICE",
)


def on_cluster(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Mount the data volume and expose the settings and the database password to `task`."""
    kubernetes.mount_pvc(task, pvc_name=DATA_VOLUME, mount_path=DATA_MOUNT)
    kubernetes.use_config_map_as_env(
        task, config_map_name=CONFIG_MAP, config_map_key_to_env={k: k for k in CONFIG_KEYS}
    )
    kubernetes.use_secret_as_env(
        task, secret_name=SECRET, secret_key_to_env={"password": "POSTGRES_PASSWORD"}
    )
    return task


@dsl.pipeline(
    name=PIPELINE_NAME, description="Rank investors by skill: features, walk-forward LightGBM, gate."
)
def training_pipeline(source: str, data_root: str, config_file: str = "") -> None:
    """Train, gate and deploy the ranker on the platform tables in `source`.

    Args:
        source: Directory of platform tables in the data contract (read only).
        data_root: Where every output goes (a shared volume in a cluster).
        config_file: Optional YAML settings file; environment variables ``SKILLRANK_*`` also apply.
    """
    step = {"data_root": data_root, "config_file": config_file}
    ingest_task = on_cluster(ingest_op(source=source, **step))
    features_task = on_cluster(features_op(clean=ingest_task.outputs["clean"], **step))
    features, labels = features_task.outputs["features"], features_task.outputs["labels"]
    publish_task = on_cluster(publish_op(features=features, **step))
    train_task = on_cluster(train_op(features=features, labels=labels, **step).after(publish_task))
    predictions = train_task.outputs["predictions"]
    gate_task = on_cluster(gate_op(outcome=train_task.outputs["outcome"], **step))
    with dsl.If(gate_task.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712 (KFP condition)
        promote_task = on_cluster(promote_op(model=train_task.outputs["model"], **step))
        champion = promote_task.outputs["champion"]
        deploy_task = on_cluster(deploy_op(champion=champion, **step))
        promoted_scores_task = on_cluster(
            scores_op(features=features, predictions=predictions, served=champion, **step).after(deploy_task)
        )
        on_cluster(monitor_op(features=features, served=champion, **step).after(promoted_scores_task))
    with dsl.Else(name="champion-stays"):
        served_task = on_cluster(served_model_op(**step))
        served = served_task.outputs["served"]
        kept_scores_task = on_cluster(
            scores_op(features=features, predictions=predictions, served=served, **step)
        )
        on_cluster(monitor_op(features=features, served=served, **step).after(kept_scores_task))
