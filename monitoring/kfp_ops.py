"""Thin KFP component of the monitoring job (the logic is `monitoring.job.run_monitor`)."""

from kfp import dsl
from kfp.dsl import HTML, Output

from components.kfp_ops import IMAGE


@dsl.component(base_image=IMAGE)
def monitor_op(data_root: str, config_file: str, after: str, report: Output[HTML]) -> bool:
    """Evidently drift of the latest features against the training reference; the retrain decision."""
    import shutil

    from components.config.settings import Settings
    from monitoring.job import run_monitor

    settings = Settings.for_step(data_root, config_file)
    decision, html = run_monitor(settings)
    shutil.copyfile(html, report.path)
    return decision.retrain
