"""Evidently drift of a window's features and scores against the served model's training reference.

`drift_report` runs one Evidently report (a `DataDriftPreset` with tests) for one window and writes its
JSON (and HTML); `read_drift` reads what drifted off the report's JSON result, so it can be tested on a
literal dict. The features get the configured test (by default the Wasserstein distance normed by the
reference's standard deviation, which does not flag trivial shifts of large samples the way p-values
do); the score gets the PSI on fixed bins, the deciles of the training scores (`decile_psi`), registered
as an Evidently stat test so that the report shows it beside the features.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from components.errors import DataError

HTML_NAME = "drift_report.html"
JSON_NAME = "drift_report.json"
VALUE_DRIFT = "evidently:metric_v2:ValueDrift"  # the per-column drift metric of Evidently's DataDriftPreset
DECILE_PSI = "psi_training_deciles"
PSI_FLOOR = 1e-4  # share given to an empty bin, so that the log stays finite


@dataclass(frozen=True)
class WindowDrift:
    """What drifted in one window, and why it counts as a drifted window or not.

    Attributes:
        drifted: True when the share of drifted features reaches the threshold, or the score drifted.
        drifted_share: Share of the monitored features whose distribution drifted, in [0, 1].
        drifted_columns: The drifted features, in the order they were monitored.
        scores: Every monitored column's drift score (the score column's is its PSI), by name.
        reasons: Human-readable sentences behind the verdict.
        score_psi: PSI of the scores on the training deciles (None when scores were not monitored).
        score_drifted: Whether the score's PSI reached its threshold.
    """

    drifted: bool
    drifted_share: float
    drifted_columns: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    score_psi: float | None = None
    score_drifted: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def decile_psi(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, bins: int = 10) -> float:
    """Population stability index of `current` on fixed bins: the quantiles of `reference`.

    Edges that coincide (a point mass, e.g. the neutral score of new accounts) are merged; an empty bin
    counts as `PSI_FLOOR`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> reference = rng.normal(size=5000)
        >>> decile_psi(reference, rng.normal(size=5000)) < 0.01, decile_psi(reference, reference + 1) > 0.5
        (True, True)
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        raise DataError("PSI needs values in both the reference and the current scores")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    expected = np.clip(expected / len(reference), PSI_FLOOR, None)
    actual = np.clip(actual / len(current), PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _decile_psi_test(reference: pd.Series, current: pd.Series, feature_type, threshold: float):
    psi = decile_psi(reference, current)
    return psi, psi >= threshold


def register_decile_psi() -> None:
    """Make `DECILE_PSI` a stat test Evidently knows by name (idempotent; called before each report)."""
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    test = StatTest(
        name=DECILE_PSI,
        display_name="PSI on the training deciles",
        allowed_feature_types=[ColumnType.Numerical],
        default_threshold=0.25,
    )
    register_stattest(test, _decile_psi_test)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    feature_columns: list[str],
    out_dir: Path,
    drift_share_threshold: float = 0.3,
    *,
    method: str | None = None,
    threshold: float | None = None,
    score_column: str | None = None,
    score_threshold: float = 0.25,
    html: bool = True,
) -> WindowDrift:
    """Compare the distributions of `current` with `reference`: which features drifted, and the score.

    Without a `method`, Evidently picks a test per column (Kolmogorov-Smirnov for small samples, the
    normed Wasserstein distance for large ones). Other columns of the frames (keys, timestamps) are
    ignored.

    Args:
        reference: Features (and scores) the served model was trained on.
        current: Features (and scores) of the window to check.
        feature_columns: The numeric features to monitor.
        out_dir: Where `drift_report.json` (and `drift_report.html`) are written (created if missing).
        drift_share_threshold: The window drifted when at least this share of the features drifted.
        method: Evidently's stat test for the features (e.g. ``wasserstein``, ``psi``, ``ks``).
        threshold: The features' drift threshold for `method` (its default when None).
        score_column: A score column to test with `decile_psi` (None: scores are not monitored).
        score_threshold: PSI from which the score drifted.
        html: Also write the HTML report.

    Returns:
        What drifted, read from the report's result.

    Raises:
        DataError: If a column is missing from a frame or has no values there, a frame has no rows, no
            feature is named, or the share threshold is not in (0, 1].
    """
    _check_threshold(drift_share_threshold)
    columns = list(feature_columns) + ([score_column] if score_column else [])
    _check_frames({"reference": reference, "current": current}, columns, list(feature_columns))
    register_decile_psi()
    definition = DataDefinition(numerical_columns=columns)
    preset = DataDriftPreset(
        columns=columns,
        drift_share=drift_share_threshold,
        method=method,
        threshold=threshold,
        per_column_method={score_column: DECILE_PSI} if score_column else None,
        per_column_threshold={score_column: score_threshold} if score_column else None,
    )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    if html:
        snapshot.save_html(str(out_dir / HTML_NAME))  # Evidently writes only when given a str path
    result = json.loads(snapshot.json())
    (out_dir / JSON_NAME).write_text(json.dumps(result, indent=2))
    return read_drift(result, drift_share_threshold, score_column)


def read_drift(drift_result: dict, threshold: float, score_column: str | None = None) -> WindowDrift:
    """Read what drifted from an Evidently data-drift result (`Snapshot.json()` of a report with tests).

    A column has drifted when its `ValueDrift` test failed; the window drifted when the drifted share of
    the features (the score column aside) is at least `threshold`, or the score drifted.

    Args:
        drift_result: The report's JSON result: its `metrics` and `tests` lists.
        threshold: The share of drifted features, in (0, 1], from which the window drifted.
        score_column: The score's column, read apart from the features.

    Returns:
        The verdict, with one summary reason and one reason per drifted column.

    Raises:
        ValueError: If the result holds no per-column drift test, or the threshold is not in (0, 1].

    Example:
        >>> test = {"status": "FAIL", "metric_config": {"metric_id": "m1", "params": {
        ...     "type": VALUE_DRIFT, "column": "hhi", "method": "Wasserstein distance (normed)",
        ...     "threshold": 0.1}}}
        >>> result = {"metrics": [{"id": "m1", "value": 0.42}], "tests": [test]}
        >>> drift = read_drift(result, 0.3)
        >>> drift.drifted, drift.drifted_columns, drift.scores
        (True, ['hhi'], {'hhi': 0.42})
        >>> drift.reasons[0]
        '1 of 1 features drifted (100% >= 30%): hhi'
        >>> drift.reasons[1]
        'hhi: Wasserstein distance (normed) = 0.42 (threshold 0.1)'
    """
    _check_threshold(threshold)
    tests = [t for t in drift_result.get("tests", []) if _params(t).get("type") == VALUE_DRIFT]
    if not tests:
        raise ValueError(
            "the drift result has no per-column drift tests: run the Evidently Report with a DataDriftPreset "
            "and include_tests=True"
        )
    values = {metric["id"]: metric["value"] for metric in drift_result.get("metrics", [])}
    scores = {_params(t)["column"]: _score(t, values) for t in tests}
    features = [t for t in tests if _params(t)["column"] != score_column]
    drifted = [t for t in features if t["status"] == "FAIL"]
    names = [_params(t)["column"] for t in drifted]
    share = len(drifted) / len(features) if features else 0.0
    comparison = f"{share:.0%} {'>=' if share >= threshold else '<'} {threshold:.0%}"
    summary = f"{len(drifted)} of {len(features)} features drifted ({comparison})"
    if names:
        summary += f": {', '.join(names)}"
    reasons = [summary] + [_column_reason(t, values) for t in drifted]
    score_tests = [t for t in tests if _params(t)["column"] == score_column]
    score_drifted = bool(score_tests) and score_tests[0]["status"] == "FAIL"
    if score_tests:
        reasons.append(
            f"{'' if score_drifted else 'no '}score drift: {_column_reason(score_tests[0], values)}"
        )
    return WindowDrift(
        drifted=share >= threshold or score_drifted,
        drifted_share=share,
        drifted_columns=names,
        scores=scores,
        reasons=reasons,
        score_psi=scores.get(score_column) if score_tests else None,
        score_drifted=score_drifted,
    )


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


def _params(test: dict) -> dict:
    return test.get("metric_config", {}).get("params", {})


def _score(test: dict, values: dict) -> float:
    value = values.get(test["metric_config"]["metric_id"])
    return float("nan") if value is None else float(value)


def _column_reason(test: dict, values: dict) -> str:
    params = _params(test)
    score = values.get(test["metric_config"]["metric_id"])
    shown = "n/a" if score is None else f"{score:.3g}"
    return f"{params['column']}: {params['method']} = {shown} (threshold {params['threshold']:g})"


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise DataError(f"drift share threshold must be in (0, 1], got {threshold}")


def _check_frames(frames: dict[str, pd.DataFrame], columns: list[str], features: list[str]) -> None:
    if not features:
        raise DataError("no feature columns to monitor: pass at least one name in feature_columns")
    for name, frame in frames.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{name} data is missing feature column(s) {', '.join(missing)}")
        if frame.empty:
            raise DataError(f"{name} data has no rows: there is nothing to compare")
        empty = [c for c in columns if frame[c].isna().all()]
        if empty:
            raise DataError(
                f"feature column(s) {', '.join(empty)} have no values in the {name} data: "
                "drift cannot be measured; check the feature job's output"
            )
