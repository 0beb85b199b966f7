"""Compile the pipelines to the YAML the Kubeflow UI uploads."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler

from pipelines.training import training_pipeline


def compile_training(output: Path) -> Path:
    """Write the training pipeline's IR YAML to `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(training_pipeline, package_path=str(output))
    return output
