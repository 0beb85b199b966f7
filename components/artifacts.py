"""What the training pipeline's KFP artifacts hold, so a run in the Kubeflow UI shows its lineage.

The tables stay in the data root (a shared volume in a cluster): a Dataset artifact holds a small JSON
manifest of a table (where it is, how many rows), and the artifact's metadata repeats it. Only what is
small is copied into an artifact: the scores/ table, the registered model's MLflow directory (a
LightGBM booster of a few hundred kB). Plain functions on paths: the component bodies of
`components.kfp_ops` call them with their artifacts' ``.path`` and put what they return in ``.metadata``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pyarrow.dataset
from mlflow import MlflowClient

from components.config.layout import DataLayout
from components.config.tracking import download_model


def count_rows(location: Path) -> int:
    """Rows of the Parquet table (a file or a directory of parts) at `location`, from its metadata."""
    return int(pyarrow.dataset.dataset(location, format="parquet").count_rows())


def write_manifest(path: str, manifest: dict) -> dict:
    """Write `manifest` as JSON to `path` (an artifact's file); returns it, for the artifact's metadata."""
    Path(path).write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def table_manifest(path: str, location: Path, **facts: object) -> dict:
    """The manifest of the Parquet table at `location` (its rows counted), written to `path`.

    Example:
        >>> import pandas as pd, tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> pd.DataFrame({"a": [1, 2, 3]}).to_parquet(root / "t.parquet")
        >>> table_manifest(str(root / "manifest.json"), root / "t.parquet", as_of_dates=1)["rows"]
        3
    """
    return write_manifest(path, {"location": str(location), "rows": count_rows(location), **facts})


def clean_manifest(path: str, layout: DataLayout, reconciliation: dict[str, dict]) -> dict:
    """The manifest of clean/: where each table ingest kept is, and its clean rows; written to `path`."""
    manifest: dict = {"location": str(layout.reconciliation.parent)}
    for table, entry in reconciliation.items():
        manifest |= {f"{table}_location": str(layout.clean(table)), f"{table}_rows": int(entry["clean"])}
    return write_manifest(path, manifest)


def reconciliation_metrics(reconciliation: dict[str, dict]) -> dict[str, int]:
    """Input, clean and quarantined rows per table, as flat metric names.

    Example:
        >>> reconciliation_metrics({"trades": {"input": 5, "clean": 4, "quarantined": 1, "reasons": {}}})
        {'trades_input': 5, 'trades_clean': 4, 'trades_quarantined': 1}
    """
    return {
        f"{table}_{key}": int(entry[key])
        for table, entry in reconciliation.items()
        for key in ("input", "clean", "quarantined")
    }


def finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics a KFP Metrics artifact can hold: its metadata is a protobuf Struct, which has no NaN.

    A metric that could not be measured (NaN: e.g. NDCG against skill on a world where nobody is
    skilled) is left out, as MLflow's own records show it, rather than failing the step.

    Example:
        >>> finite_metrics({"a": 0.5, "b": float("nan"), "c": float("inf")})
        {'a': 0.5}
    """
    return {name: float(value) for name, value in metrics.items() if math.isfinite(value)}


def copied_table(path: str, location: Path, **facts: object) -> dict:
    """Copy the (small) Parquet directory at `location` into `path`; returns the artifact's metadata."""
    shutil.copytree(location, path, dirs_exist_ok=True)
    return {"location": str(location), "rows": count_rows(location), **facts}


def model_artifact(client: MlflowClient, model_name: str, version: str, path: str, **facts: object) -> dict:
    """Copy the MLflow model directory of registered `version` into `path`; returns its metadata.

    The copy loads with ``mlflow.lightgbm.load_model(path)``; the metadata names the version in the
    registry (``models:/<name>/<version>``), which is what the later steps read.
    """
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(download_model(client, model_name, version, tmp), path, dirs_exist_ok=True)
    return {
        "model_name": model_name,
        "version": str(version),
        "uri": f"models:/{model_name}/{version}",
        **facts,
    }
