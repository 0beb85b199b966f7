"""Evidently data drift of the served features against the training reference, and the retrain decision.

`drift_report` runs the report and writes it; `retrain_decision` reads the decision off the report's
JSON result, so it can be tested on a literal dict.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from components.errors import DataError

HTML_NAME = "drift_report.html"
JSON_NAME = "drift_report.json"
VALUE_DRIFT = "evidently:metric_v2:ValueDrift"  # the per-column drift metric of Evidently's DataDriftPreset


@dataclass(frozen=True)
class DriftDecision:
    """Whether the drift of the features calls for retraining, and why.

    Attributes:
        retrain: True when the share of drifted features reaches the threshold.
        drifted_share: Share of the monitored features whose distribution drifted, in [0, 1].
        drifted_columns: The drifted features, in the order they were monitored.
        reasons: Human-readable sentences behind the decision.
    """

    retrain: bool
    drifted_share: float
    drifted_columns: list[str]
    reasons: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature_columns: list[str],
    out_dir: Path,
    drift_share_threshold: float = 0.3,
) -> DriftDecision:
    """Compare the feature distributions of `current` with `reference` and decide whether to retrain.

    Evidently picks a drift test per column (e.g. Kolmogorov-Smirnov for small samples, normed Wasserstein
    distance for large ones). Other columns of the frames (keys, timestamps) are ignored.

    Args:
        reference: Features the served model was trained on.
        current: Features of the period to check.
        feature_columns: The numeric features to monitor.
        out_dir: Where `drift_report.html` and `drift_report.json` are written (created if missing).
        drift_share_threshold: Retrain when at least this share of the features drifted.

    Returns:
        The decision, read from the report's result.

    Raises:
        ValueError: If a feature column is missing from a frame or has no values there, a frame has no rows,
            no feature is named, or the threshold is not in (0, 1].
    """
    _check_threshold(drift_share_threshold)
    _check_frames({"reference": reference, "current": current}, feature_columns)
    columns = list(feature_columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share_threshold)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out_dir / HTML_NAME))  # Evidently writes only when given a str path
    result = json.loads(snapshot.json())
    (out_dir / JSON_NAME).write_text(json.dumps(result, indent=2))
    return retrain_decision(result, drift_share_threshold)


def retrain_decision(drift_result: dict, threshold: float) -> DriftDecision:
    """Decide from an Evidently data-drift result (`Snapshot.json()` of a report run with tests).

    A feature has drifted when its `ValueDrift` test failed; retrain when the drifted share is at least
    `threshold`.

    Args:
        drift_result: The report's JSON result: its `metrics` and `tests` lists.
        threshold: The share of drifted features, in (0, 1], from which to retrain.

    Returns:
        The decision, with one summary reason and one reason per drifted feature.

    Raises:
        ValueError: If the result holds no per-column drift test, or the threshold is not in (0, 1].

    Example:
        >>> test = {"status": "FAIL", "metric_config": {"metric_id": "m1", "params": {
        ...     "type": VALUE_DRIFT, "column": "sharpe_12m", "method": "K-S p_value", "threshold": 0.05}}}
        >>> result = {"metrics": [{"id": "m1", "value": 0.001}], "tests": [test]}
        >>> decision = retrain_decision(result, 0.3)
        >>> decision.retrain, decision.drifted_columns
        (True, ['sharpe_12m'])
        >>> decision.reasons[0]
        '1 of 1 features drifted (100% >= 30%): sharpe_12m'
    """
    _check_threshold(threshold)
    tests = [t for t in drift_result.get("tests", []) if _params(t).get("type") == VALUE_DRIFT]
    if not tests:
        raise ValueError(
            "the drift result has no per-column drift tests: run the Evidently Report with a DataDriftPreset "
            "and include_tests=True"
        )
    scores = {metric["id"]: metric["value"] for metric in drift_result.get("metrics", [])}
    drifted = [t for t in tests if t["status"] == "FAIL"]
    names = [_params(t)["column"] for t in drifted]
    share = len(drifted) / len(tests)
    retrain = share >= threshold
    comparison = f"{share:.0%} {'>=' if retrain else '<'} {threshold:.0%}"
    summary = f"{len(drifted)} of {len(tests)} features drifted ({comparison})"
    if names:
        summary += f": {', '.join(names)}"
    return DriftDecision(retrain, share, names, [summary] + [_column_reason(t, scores) for t in drifted])


def _params(test: dict) -> dict:
    return test.get("metric_config", {}).get("params", {})


def _column_reason(test: dict, scores: dict) -> str:
    params = _params(test)
    score = scores.get(test["metric_config"]["metric_id"])
    shown = "n/a" if score is None else f"{score:.3g}"
    return f"{params['column']}: {params['method']} = {shown} (threshold {params['threshold']:g})"


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ValueError(f"drift share threshold must be in (0, 1], got {threshold}")


def _check_frames(frames: dict[str, pd.DataFrame], feature_columns: list[str]) -> None:
    if not feature_columns:
        raise DataError("no feature columns to monitor: pass at least one name in feature_columns")
    for name, frame in frames.items():
        missing = [c for c in feature_columns if c not in frame.columns]
        if missing:
            raise DataError(f"{name} data is missing feature column(s) {', '.join(missing)}")
        if frame.empty:
            raise DataError(f"{name} data has no rows: there is nothing to compare")
        empty = [c for c in feature_columns if frame[c].isna().all()]
        if empty:
            raise DataError(
                f"feature column(s) {', '.join(empty)} have no values in the {name} data: "
                "drift cannot be measured; check the feature job's output"
            )
