"""Thin KFP components of the monitoring pipeline: each calls one step of `monitoring.job`.

The steps hand each other the record (a Dataset manifest of the tables under ``<data root>/monitoring``),
each series as a JSON artifact beside its HTML page, and the decision; `decide_op` returns whether to
retrain, which the pipeline's ``dsl.If`` reads. `monitor_op` is the whole monitor in one step, without a
trigger: the training pipeline's last step. Every component is a skillrank `step` (the project image).
"""

from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components.kfp_ops import step


@step
def record_op(data_root: str, config_file: str, record: Output[Dataset]):
    """The served model, the feed's record of every date, the windows' scores and the training reference."""
    from components.artifacts import table_manifest
    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.job import monitoring_file, read_served, record_step

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    served = record_step(settings, mlflow_client(settings))
    _, windows = read_served(settings)
    record.metadata.update(
        table_manifest(
            record.path,
            monitoring_file(settings, "record"),
            model_name=served.name,
            model_version=served.version,
            windows=len(windows),
            latest_window=str(windows[-1].date()),
        )
    )


@step
def drift_op(
    data_root: str,
    config_file: str,
    record: Input[Dataset],
    drift: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
):
    """Evidently drift of each served window's features and scores against the training reference."""
    import shutil

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.drift import HTML_NAME
    from monitoring.job import drift_step, monitoring_file

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    rows = drift_step(settings, mlflow_client(settings))
    shutil.copyfile(monitoring_file(settings, "drift"), drift.path)
    shutil.copyfile(settings.layout.drift_reports / HTML_NAME, report.path)
    latest = rows.iloc[-1]
    metrics.log_metric("latest_drifted_share", float(latest["drifted_share"]))
    metrics.log_metric("drifted_windows", int(rows["drifted"].sum()))


@step
def series_op(
    data_root: str,
    config_file: str,
    series_name: str,
    record: Input[Dataset],
    series: Output[Artifact],
    plot: Output[HTML],
):
    """One series of the record (`monitoring.job.SERIES_STEPS`): ``proxy`` (the next trading day of the
    feed's top K against the platform, and the score's IC), ``realised`` (NDCG@100 and IC of the past
    dates whose label has matured) or ``churn`` (top-10 churn, date over date)."""
    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.job import series_artifacts

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    series_artifacts(settings, mlflow_client(settings), series_name, series.path, plot.path)


@step
def decide_op(
    data_root: str,
    config_file: str,
    until_retrain: bool,
    drift: Input[Artifact],
    proxy: Input[Artifact],
    realised: Input[Artifact],
    churn: Input[Artifact],
    decision: Output[Artifact],
    report: Output[HTML],
) -> bool:
    """The policy applied to the series: retrain or not, and every reason; the monitoring report."""
    import shutil

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.job import REPORT_NAME, decision_step, monitoring_file

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    decisions = decision_step(settings, mlflow_client(settings), until_retrain)
    shutil.copyfile(monitoring_file(settings, "decision"), decision.path)
    shutil.copyfile(settings.layout.monitoring_reports / REPORT_NAME, report.path)
    decision.metadata.update({"window": decisions[-1].window, "rules_fired": decisions[-1].rules_fired})
    return decisions[-1].retrain


@step
def trigger_op(
    data_root: str, config_file: str, source: str, decision: Input[Artifact], outcome: Output[Artifact]
):
    """Launch the training pipeline the decision calls for: locally (one at a time) or on Kubeflow."""
    import json
    from pathlib import Path

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.decision import Decision
    from monitoring.trigger import trigger_retrain

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    if source:
        settings = settings.model_copy(update={"source": Path(source)})
    made = trigger_retrain(
        settings, Decision.from_json(Path(decision.path).read_text()), mlflow_client(settings)
    )
    Path(outcome.path).write_text(json.dumps(made.to_dict(), indent=2))
    outcome.metadata.update({"launched": made.launched, "mode": made.mode})


@step
def monitor_op(
    data_root: str, config_file: str, features: Input[Dataset], served: Input[Model], report: Output[HTML]
) -> bool:
    """The whole monitor of the served model in one step, without a trigger; retrain?"""
    import shutil

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.job import run_monitor

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    outcome = run_monitor(settings, mlflow_client(settings), served.metadata["version"], trigger=False)
    shutil.copyfile(outcome.report, report.path)
    return outcome.decision.retrain
