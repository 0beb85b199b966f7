"""The monitoring pipeline: record -> drift, proxy labels, realised labels, churn -> decision ->
``dsl.If(retrain)`` -> trigger.

The record step fixes what the feed showed at each window (the prediction log, else ``scores/``, else the
served model's scores of newer features) and the served model's training reference; the four series read
it; the decision joins them, applies the policy in the settings and returns whether to retrain; only then
the trigger launches the training pipeline (locally with the KFP local runner, one at a time; in a cluster
a run of the uploaded training pipeline), which still has to pass its gate. Every step writes its JSON and
HTML as KFP artifacts and its numbers to the window's MLflow monitoring run.

In a cluster each step is wired like the training pipeline's (`pipelines.training`): the data volume, the
settings' ConfigMap, the passwords, its namespace, the image's user, its size, and no caching (each step
reads state that changes under it). The local runner ignores all of that.
"""

from kfp import dsl

from monitoring.job import SERIES_STEPS
from monitoring.kfp_ops import decide_op, drift_op, record_op, series_op, trigger_op
from pipelines.training import (
    CONFIG_MAP,
    DATA_MOUNT,
    DATA_VOLUME,
    POSTGRES_SECRET,
    REDIS_SECRET,
    ClusterNames,
    Resources,
)
from pipelines.training import in_cluster as wire_in_cluster

PIPELINE_NAME = "skillrank-monitoring"
SMALL = Resources("250m", "1", "1Gi", "2Gi")
STEP_RESOURCES = {
    "record-op": Resources("1", "2", "2Gi", "4Gi"),  # scores the windows no feed recorded
    "drift-op": Resources("1", "2", "2Gi", "4Gi"),
    "series-op": SMALL,  # proxy labels, realised labels, churn
    "decide-op": SMALL,
    "trigger-op": SMALL,
}


def in_cluster(task: dsl.PipelineTask, names: ClusterNames) -> dsl.PipelineTask:
    """The training pipeline's cluster wiring of a step, sized for the monitoring steps."""
    return wire_in_cluster(task, names, STEP_RESOURCES)


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Watch the served model: drift, proxy and realised labels, top-10 churn; retrain on a rule.",
)
def monitoring_pipeline(
    data_root: str = DATA_MOUNT,
    config_file: str = "",
    source: str = "",
    until_retrain: bool = False,
    data_volume: str = DATA_VOLUME,
    config_map: str = CONFIG_MAP,
    postgres_secret: str = POSTGRES_SECRET,
    redis_secret: str = REDIS_SECRET,
) -> None:
    """Monitor the model the feed serves and retrain it when the policy says so.

    Args:
        data_root: The data root (in a cluster, the data volume at ``/data``).
        config_file: Optional YAML settings file; environment variables ``SKILLRANK_*`` also apply.
        source: The platform tables a retrain reads; empty: the settings' ``SKILLRANK_SOURCE``.
        until_retrain: Replay the served windows in order until one retrains (else: the latest only).
        data_volume: The PersistentVolumeClaim of the data root.
        config_map: The ConfigMap of ``SKILLRANK_*`` settings.
        postgres_secret: The Secret whose ``password`` the Feast registry URL needs.
        redis_secret: The Secret whose ``password`` the online store's connection string needs.
    """
    names = ClusterNames(data_volume, "", config_map, postgres_secret, redis_secret)
    step_args = {"data_root": data_root, "config_file": config_file}
    record_task = in_cluster(record_op(**step_args), names)
    record = record_task.outputs["record"]
    drift_task = in_cluster(drift_op(record=record, **step_args), names)
    series = {
        name: in_cluster(series_op(series_name=name, record=record, **step_args), names)
        .set_display_name(name)
        .outputs["series"]
        for name in SERIES_STEPS
    }
    drift = drift_task.outputs["drift"]
    decide_task = in_cluster(
        decide_op(until_retrain=until_retrain, drift=drift, **series, **step_args), names
    )
    with dsl.If(decide_task.outputs["Output"] == True, name="retrain"):  # noqa: E712 (KFP condition)
        in_cluster(trigger_op(source=source, decision=decide_task.outputs["decision"], **step_args), names)
