"""Thin KFP components: each imports its step from the installed package, calls it, logs metrics.

Bodies stay a few lines because the logic lives in tested plain functions; `base_image` is the
project's image (the package installed), so no `packages_to_install`. The local runner executes the
same bodies in this environment. Each body is a process entry point: it configures logging and builds
the MLflow client once, then passes it down.

Steps hand each other typed artifacts, so the Kubeflow UI shows the run's lineage: Datasets for the
clean tables, features, labels, predictions, the retrieval candidates and scores (manifests of tables
that stay in the data root, see `components.artifacts`), a Model for each registered version a step
hands on, the training outcome the gate reads (an Artifact holding `TrainingOutcome` as JSON), and
Metrics, HTML and Markdown for people to read.

Every component runs on the project image, which holds kfp itself (so no step installs it at start).
The image is named here `IMAGE`, the placeholder the manifests also use (`image: skillrank`):
`skillrank compile` writes the one reference that kustomize's ``images:`` gives the manifests
(`pipelines.compile`), so nothing about the image is read when this module is imported.
"""

import functools

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

IMAGE = "skillrank"
# The decorator of every skillrank step: the project image, kfp already installed in it.
step = functools.partial(dsl.component, base_image=IMAGE, install_kfp_package=False)


@step
def ingest_op(
    source: str, data_root: str, config_file: str, clean: Output[Dataset], reconciliation: Output[Metrics]
):
    """Validate the source tables into clean/ and quarantine/; log input = clean + quarantined.

    An empty `source` is the settings' (``SKILLRANK_SOURCE``; in a cluster, the export volume).
    """
    from pathlib import Path

    from components.artifacts import clean_manifest, reconciliation_metrics
    from components.config.settings import Settings
    from components.console import configure_logging
    from components.contract.ingest import ingest
    from components.errors import DataError

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    tables = Path(source) if source else settings.source
    if tables is None:
        raise DataError("no source directory: pass the run parameter `source` or set SKILLRANK_SOURCE")
    counts = ingest(tables, settings.layout)
    clean.metadata.update(clean_manifest(clean.path, settings.layout, counts))
    for name, value in reconciliation_metrics(counts).items():
        reconciliation.log_metric(name, value)


@step
def features_op(
    data_root: str,
    config_file: str,
    clean: Input[Dataset],
    features: Output[Dataset],
    labels: Output[Dataset],
):
    """Spark: point-in-time features and forward labels per account and month-end, from the clean tables.

    In this pod (Spark's local mode), or with ``spark_submit: operator`` as a SparkApplication of the
    Spark Operator, which this step submits and waits for.
    """
    from components.artifacts import table_manifest
    from components.config.settings import Settings
    from components.console import configure_logging
    from components.features.spark_operator import compute_features

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    layout = settings.layout
    counts = compute_features(settings)
    features.metadata.update(table_manifest(features.path, layout.features, **counts))
    labels.metadata.update(table_manifest(labels.path, layout.labels, **counts))


@step
def publish_op(data_root: str, config_file: str, features: Input[Dataset], candidates: Output[Dataset]):
    """Feast apply + materialise the latest features online + rebuild the retrieval index (candidates)."""
    from components.artifacts import table_manifest
    from components.config.settings import Settings
    from components.console import configure_logging
    from components.store.publish import publish_features

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    published = publish_features(settings.layout, settings)
    candidates.metadata.update(
        table_manifest(
            candidates.path, settings.layout.retrieval_index, latest_as_of=published["latest_as_of"]
        )
    )


@step
def train_op(
    data_root: str,
    config_file: str,
    features: Input[Dataset],
    labels: Input[Dataset],
    model: Output[Model],
    outcome: Output[Artifact],
    predictions: Output[Dataset],
    metrics: Output[Metrics],
    evaluation: Output[HTML],
):
    """Walk-forward LightGBM vs baselines, tracked in MLflow, registered as challenger."""
    import shutil
    from pathlib import Path

    from components.artifacts import finite_metrics, model_artifact, table_manifest
    from components.config.settings import Settings
    from components.config.tracking import use_experiment
    from components.console import configure_logging
    from components.release.training import predictions_path, train_and_register

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    tracking = use_experiment(settings)
    result = train_and_register(settings.layout, settings, tracking)
    Path(outcome.path).write_text(result.to_json())
    outcome.metadata.update({"run_id": result.run_id, "version": result.version})
    model.metadata.update(model_artifact(tracking.client, settings.model_name, result.version, model.path))
    predictions.metadata.update(table_manifest(predictions.path, predictions_path(settings.layout)))
    for name, value in finite_metrics(result.summary).items():
        metrics.log_metric(name, value)
    shutil.copyfile(result.report, evaluation.path)


@step
def gate_op(data_root: str, config_file: str, outcome: Input[Artifact], verdict: Output[Markdown]) -> bool:
    """Decide whether the challenger beats the baseline and the champion; record it in MLflow."""
    from pathlib import Path

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from components.release.promotion import decide, record_decision
    from components.release.training import TrainingOutcome

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    training = TrainingOutcome.from_json(Path(outcome.path).read_text())
    decision = decide(training, settings)
    record_decision(mlflow_client(settings), training, decision, settings.model_name)
    Path(verdict.path).write_text(decision.to_markdown())
    return decision.promote


@step
def promote_op(data_root: str, config_file: str, model: Input[Model], champion: Output[Model]):
    """Point the `champion` alias at the challenger; the champion artifact is that registered version."""
    from components.artifacts import model_artifact
    from components.config import registry
    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from components.release.promotion import promote

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    client, version = mlflow_client(settings), model.metadata["version"]
    promote(client, settings.model_name, version)
    champion.metadata.update(
        model_artifact(client, settings.model_name, version, champion.path, alias=registry.CHAMPION)
    )


@step
def deploy_op(data_root: str, config_file: str, champion: Input[Model], deployment: Output[Artifact]):
    """Roll the champion out to KServe (cluster); locally the servers load it when they start."""
    from components.artifacts import write_manifest
    from components.config.settings import Settings
    from components.console import configure_logging
    from components.release.deploy import deploy_champion

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    rollout = deploy_champion(settings, champion.metadata["version"])
    deployment.metadata.update(write_manifest(deployment.path, rollout))


@step
def served_model_op(data_root: str, config_file: str, served: Output[Model]):
    """The model the feed keeps serving when the champion stays: the champion, or the challenger if none."""
    from components.artifacts import model_artifact
    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from components.release.batch_scores import serving_version

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    client = mlflow_client(settings)
    version = serving_version(client, settings.model_name)
    served.metadata.update(
        model_artifact(client, settings.model_name, version.version, served.path, aliases=version.aliases)
    )


@step
def scores_op(
    data_root: str,
    config_file: str,
    features: Input[Dataset],
    predictions: Input[Dataset],
    served: Input[Model],
    scores: Output[Dataset],
):
    """Write the contract's scores/ table for every walk-forward test date and, with `served`, the latest."""
    from components.artifacts import copied_table
    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from components.release.batch_scores import write_scores

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    written = write_scores(settings.layout, settings, mlflow_client(settings), served.metadata["version"])
    scores.metadata.update(
        copied_table(
            scores.path,
            settings.layout.scores,
            as_of_dates=len(written["rows_per_date"]),
            latest_model_version=written["latest_model_version"],
        )
    )
