"""Thin KFP component of the monitoring job (the logic is `monitoring.job.run_monitor`)."""

from kfp.dsl import HTML, Dataset, Input, Model, Output

from components.kfp_ops import step


@step
def monitor_op(
    data_root: str, config_file: str, features: Input[Dataset], served: Input[Model], report: Output[HTML]
) -> bool:
    """Evidently drift of the latest features against the served model's training reference; retrain?"""
    import shutil

    from components.config.settings import Settings
    from components.config.tracking import mlflow_client
    from components.console import configure_logging
    from monitoring.job import run_monitor

    configure_logging()
    settings = Settings.for_step(data_root, config_file)
    decision, html = run_monitor(settings, mlflow_client(settings), served.metadata["version"])
    shutil.copyfile(html, report.path)
    return decision.retrain
