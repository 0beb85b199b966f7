"""Run the training pipeline with the KFP local runner (subprocesses in this environment)."""

from __future__ import annotations

from pathlib import Path

import yaml
from kfp import local

from components.config.settings import Settings
from components.contract.reader import read_source
from components.errors import DataError
from pipelines.training import training_pipeline


def check_source(source: Path, data_root: Path) -> None:
    """Fail before anything is written if the source breaks the contract or would be written to."""
    source, data_root = source.resolve(), data_root.resolve()
    if data_root == source or source in data_root.parents:
        raise DataError(
            f"the data root {data_root} is inside the source {source}, which skillrank only reads"
        )
    read_source(source)


def run_locally(source: Path, settings: Settings) -> None:
    """Check the source, then execute every pipeline step locally, in order, on `settings.data_root`.

    The steps run in subprocesses, so the run's effective settings are written to the data root
    (``run_settings.yaml``, kept with the run's outputs) and handed to every step.
    """
    check_source(source, settings.data_root)
    layout = settings.layout
    layout.kfp_root.mkdir(parents=True, exist_ok=True)
    config_file = layout.root / "run_settings.yaml"
    config_file.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_none=True)))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(layout.kfp_root))
    training_pipeline(source=str(source.resolve()), data_root=str(layout.root), config_file=str(config_file))
