"""The monitoring job: drift of the latest features against the champion's training reference."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from components.config import registry
from components.config.settings import Settings
from components.release.batch_scores import serving_version
from components.store.feast_io import read_point_in_time_table
from feature_repo.feature_schema import EVENT_TIMESTAMP, FEATURES
from monitoring.drift import DriftDecision, drift_report

REPORT_DIR = "drift"


def reference_and_current(features: pd.DataFrame, train_end: pd.Timestamp, train_months: int):
    """Reference = the as-of dates the served model was trained on; current = the latest as-of date."""
    dates = sorted(features[EVENT_TIMESTAMP].unique())
    trained = [d for d in dates if d <= train_end][-train_months:]
    reference = features[features[EVENT_TIMESTAMP].isin(trained)]
    current = features[features[EVENT_TIMESTAMP] == dates[-1]]
    return reference, current


def measurable(
    reference: pd.DataFrame, current: pd.DataFrame, names: list[str]
) -> tuple[list[str], list[str]]:
    """The features with values in both frames, and the others.

    A feature can be undefined for a whole window and still be right: a 12-month market figure is null
    while the market data is younger than 13 months. Such a feature cannot be drift-tested.

    Example:
        >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": [None, None]})
        >>> measurable(frame, frame, ["a", "b"])
        (['a'], ['b'])
    """
    measured = [name for name in names if reference[name].notna().any() and current[name].notna().any()]
    return measured, [name for name in names if name not in measured]


def run_monitor(
    settings: Settings, client: MlflowClient, version: str | None = None
) -> tuple[DriftDecision, Path]:
    """Write the Evidently drift report under reports/drift/ and return the retrain decision and the HTML.

    Args:
        settings: The deployment's settings (data root, model name, training window).
        client: The MLflow client of the registry.
        version: The registered version to monitor; by default the one the feed serves.
    """
    served = (
        serving_version(client, settings.model_name)
        if version is None
        else client.get_model_version(settings.model_name, version)
    )
    features = read_point_in_time_table(settings.layout.features)
    train_end = pd.Timestamp(served.tags.get(registry.TAG_TRAIN_END, features[EVENT_TIMESTAMP].max()))
    reference, current = reference_and_current(features, train_end, settings.train_months)
    out_dir = settings.layout.reports / REPORT_DIR
    measured, not_measured = measurable(reference, current, list(FEATURES))
    decision = drift_report(reference, current, measured, out_dir)
    summary = decision.to_dict() | {
        "model_version": str(served.version),
        "reference_end": str(train_end.date()),
        "not_measured": not_measured,  # no values in the reference or the current data
    }
    (out_dir / "decision.json").write_text(json.dumps(summary, indent=2))
    return decision, out_dir / "drift_report.html"
