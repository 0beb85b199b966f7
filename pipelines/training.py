"""The training pipeline: ingest -> features -> Feast -> walk-forward training -> gate -> deploy -> scores.

The gate branches with `dsl.If`: only a challenger that beats the baseline and the champion is
promoted and deployed; either way the scores/ table is written with the model the feed serves, and
the drift monitor runs last.
"""


from kfp import dsl

from components.kfp_ops import (
    deploy_op,
    features_op,
    gate_op,
    ingest_op,
    promote_op,
    publish_op,
    scores_op,
    train_op,
)
from monitoring.kfp_ops import monitor_op

PIPELINE_NAME = "skillrank-training"


@dsl.pipeline(name=PIPELINE_NAME, description="Rank investors by skill: features, walk-forward LightGBM, gate.")
def training_pipeline(source: str, data_root: str, config_file: str = "") -> None:
    """Train, gate and deploy the ranker on the platform tables in `source`.

    Args:
        source: Directory of platform tables in the data contract (read only).
        data_root: Where every output goes (a shared volume in a cluster).
        config_file: Optional YAML settings file; environment variables ``SKILLRANK_*`` also apply.
    """
    ingest_task = ingest_op(source=source, data_root=data_root, config_file=config_file)
    features_task = features_op(data_root=data_root, config_file=config_file).after(ingest_task)
    publish_task = publish_op(data_root=data_root, config_file=config_file, features=features_task.output)
    train_task = train_op(data_root=data_root, config_file=config_file, published=publish_task.output)
    gate_task = gate_op(data_root=data_root, config_file=config_file, outcome=train_task.outputs["Output"])
    with dsl.If(gate_task.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712 (KFP condition)
        promote_task = promote_op(data_root=data_root, config_file=config_file, outcome=train_task.outputs["Output"])
        deploy_task = deploy_op(data_root=data_root, config_file=config_file, version=promote_task.output)
        promoted_scores_task = scores_op(data_root=data_root, config_file=config_file, after=deploy_task.output)
        monitor_op(data_root=data_root, config_file=config_file, after=promoted_scores_task.output)
    with dsl.Else(name="champion-stays"):
        kept_scores_task = scores_op(data_root=data_root, config_file=config_file, after="champion-stays")
        monitor_op(data_root=data_root, config_file=config_file, after=kept_scores_task.output)
