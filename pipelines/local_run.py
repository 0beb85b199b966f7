"""Run the training pipeline with the KFP local runner (subprocesses in this environment)."""

from __future__ import annotations

from pathlib import Path

from kfp import local

from components.contract_reader import read_source
from components.settings import Settings
from pipelines.training import training_pipeline


def check_source(source: Path, data_root: Path) -> None:
    """Fail before anything is written if the source breaks the contract or would be written to."""
    source, data_root = source.resolve(), data_root.resolve()
    if data_root == source or source in data_root.parents:
        raise ValueError(f"the data root {data_root} is inside the source {source}, which skillrank only reads")
    read_source(source)


def run_locally(source: Path, settings: Settings, config_file: Path | None = None) -> None:
    """Check the source, then execute every pipeline step locally, in order, on `settings.data_root`."""
    check_source(source, settings.data_root)
    layout = settings.layout
    layout.kfp_root.mkdir(parents=True, exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(layout.kfp_root))
    training_pipeline(
        source=str(source.resolve()),
        data_root=str(layout.root),
        config_file=str(config_file.resolve()) if config_file else "",
    )
