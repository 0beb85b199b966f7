"""The monitoring job, step by step: record -> drift -> proxy labels -> realised labels -> churn -> decision
-> trigger.

Each step is a function of the settings (and an MLflow client) that reads what the earlier steps wrote
under ``<data root>/monitoring/`` and writes its own JSON there, so the KFP components of
`monitoring.kfp_ops` call one step each and `run_monitor` (the CLI) calls them all in one process:

- `record_step`: the served model, the feed's record of every date (`monitoring.served`), the scores of
  every account at each served window, and the training reference (features and scores);
- `drift_step`, `proxy_step`, `realised_step`, `churn_step`: one time series each;
- `decision_step`: the series joined, the policy applied at the latest window (or, replaying, at each
  window until one retrains), the report written, every window logged to MLflow;
- `trigger_step`: the retrain the decision calls for (`monitoring.trigger`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from components.config.settings import Settings
from components.console import progress
from components.errors import DataError
from components.labels.definitions import LABELS, label_horizon_days
from components.store.feast_io import read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES
from monitoring import report, tracking
from monitoring.churn import churn_series
from monitoring.decision import CHURN, Decision, Policy, replay, series_frame
from monitoring.drift import HTML_NAME, WindowDrift, drift_report, measurable
from monitoring.proxy import PROXY_LABEL, proxy_series
from monitoring.realised import realised_series
from monitoring.served import ServedModel, feed_record, score_dates, windows
from monitoring.trigger import TriggerOutcome, trigger_retrain

logger = logging.getLogger(__name__)

SCORE = "score"
FALLBACK_LABEL = "fwd_alpha_tstat_12m"  # realised quality of a model whose label labels/ does not hold
FILES = {
    "served": "served.json",
    "record": "record.parquet",
    "window_scores": "window_scores.parquet",
    "reference": "reference.parquet",
    "drift": "drift.json",
    "proxy": "proxy.json",
    "realised": "realised.json",
    "churn": "churn.json",
    "series": "series.parquet",
    "decision": "decision.json",
    "decisions": "decisions.json",
}
REPORT_NAME = "monitoring_report.html"


@dataclass(frozen=True)
class MonitoringOutcome:
    """What one monitoring run decided and wrote.

    Attributes:
        decisions: The decisions made, in window order (one unless replaying); the last one counts.
        report: The monitoring report (HTML).
        trigger: What the trigger did (None when it was not asked to run).
    """

    decisions: list[Decision]
    report: Path
    trigger: TriggerOutcome | None = None

    @property
    def decision(self) -> Decision:
        return self.decisions[-1]


def monitoring_file(settings: Settings, name: str) -> Path:
    """Where the step output `name` (a key of `FILES`) lives under the data root."""
    return settings.layout.monitoring / FILES[name]


def drift_columns(settings: Settings) -> list[str]:
    """The features the monitor drift-tests, from the settings.

    Raises:
        DataError: A name is not a feature of `feature_repo.feature_schema`.
    """
    names = [name.strip() for name in settings.drift_features.split(",") if name.strip()]
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise DataError(f"drift_features names no feature or unknown ones: {unknown or names}")
    return names


def record_step(settings: Settings, client: MlflowClient, version: str | None = None) -> ServedModel:
    """The served model, the record of every date, the windows' scores and the training reference."""
    layout = settings.layout
    columns = drift_columns(settings)
    features = read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP, *columns])
    served = ServedModel.from_registry(client, settings, features, version)
    dates = sorted(pd.to_datetime(features[EVENT_TIMESTAMP].unique()))
    record = feed_record(settings, client, served, dates)
    served_windows = windows(record, served)
    trained = [d for d in dates if served.train_start <= d <= served.train_end]
    if not trained:
        raise DataError(
            f"the feature table has none of the training dates of v{served.version} "
            f"({served.train_start.date()}..{served.train_end.date()}): refresh the features"
        )
    all_scores = record[record["source"] != "prediction_log"][[ENTITY_KEY, EVENT_TIMESTAMP, SCORE]]
    missing = [d for d in served_windows if d not in set(all_scores[EVENT_TIMESTAMP])]
    scored = score_dates(settings, client, served, sorted(set(trained) | set(missing)))
    reference_scores = scored[scored[EVENT_TIMESTAMP].isin(trained)]
    window_scores = pd.concat(
        [
            all_scores[all_scores[EVENT_TIMESTAMP].isin(served_windows)],
            scored[scored[EVENT_TIMESTAMP].isin(missing)],
        ]
    )
    reference = features[features[EVENT_TIMESTAMP].isin(trained)].merge(
        reference_scores, on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left"
    )
    layout.monitoring.mkdir(parents=True, exist_ok=True)
    record.to_parquet(monitoring_file(settings, "record"), index=False)
    window_scores.to_parquet(monitoring_file(settings, "window_scores"), index=False)
    reference.to_parquet(monitoring_file(settings, "reference"), index=False)
    write_json(monitoring_file(settings, "served"), served_dict(served, served_windows))
    logger.info(
        "monitoring v%s: %d record dates, %d served window(s) %s..%s, reference %s..%s",
        served.version,
        record[EVENT_TIMESTAMP].nunique(),
        len(served_windows),
        served_windows[0].date(),
        served_windows[-1].date(),
        served.train_start.date(),
        served.train_end.date(),
    )
    return served


def drift_step(settings: Settings, client: MlflowClient) -> pd.DataFrame:
    """Evidently drift of each served window against the reference; the latest window's report in HTML."""
    served, served_windows = read_served(settings)
    columns = drift_columns(settings)
    features = read_point_in_time_table(settings.layout.features, [ENTITY_KEY, EVENT_TIMESTAMP, *columns])
    scores = pd.read_parquet(monitoring_file(settings, "window_scores"))
    reference = pd.read_parquet(monitoring_file(settings, "reference"))
    out_dir = settings.layout.drift_reports
    rows = []
    for window in progress(served_windows, "drift of the served windows", unit="window"):
        current = features[features[EVENT_TIMESTAMP] == window].merge(
            scores[scores[EVENT_TIMESTAMP] == window], on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left"
        )
        measured, _ = measurable(reference, current, columns)
        drift = drift_report(
            reference,
            current,
            measured,
            out_dir,
            settings.drift_share,
            method=settings.drift_method,
            threshold=settings.drift_threshold,
            score_column=SCORE if current[SCORE].notna().any() and reference[SCORE].notna().any() else None,
            score_threshold=settings.score_psi_threshold,
            html=window == served_windows[-1],
        )
        rows.append(drift_row(window, drift, [c for c in columns if c not in measured]))
    write_json(monitoring_file(settings, "drift"), rows)
    tracking.log_window_metrics(client, settings, served, window_metrics(rows, drift_metrics))
    return pd.DataFrame(rows)


def drift_row(window: pd.Timestamp, drift: WindowDrift, not_measured: list[str]) -> dict:
    """One window's drift as a row of the series."""
    values = asdict(drift)
    return {
        EVENT_TIMESTAMP: str(window.date()),
        "drifted": drift.drifted,
        "drifted_share": drift.drifted_share,
        "drifted_columns": drift.drifted_columns,
        "drift_scores": values["scores"],
        "score_psi": drift.score_psi,
        "drift_reasons": drift.reasons,
        "not_measured": not_measured,
    }


def drift_metrics(row: dict) -> dict[str, float]:
    """The MLflow metrics of a drift row: the drifted share, the score PSI, each column's drift score."""
    scores = {f"drift_{name}": value for name, value in row["drift_scores"].items()}
    return {"drifted_share": row["drifted_share"], "score_psi": row["score_psi"]} | scores


def labels_table(settings: Settings, label: str | None) -> pd.DataFrame | None:
    """``labels/`` with the proxy label and `label` (None when the feature job wrote none yet)."""
    path = settings.layout.labels
    if not path.exists():
        return None
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, PROXY_LABEL] + ([label] if label and label != PROXY_LABEL else [])
    return read_point_in_time_table(path, columns)


def realised_label(served: ServedModel) -> str:
    """The label whose realised values judge the served model: its own when ``labels/`` holds it."""
    return served.label if served.label in LABELS else FALLBACK_LABEL


def proxy_step(settings: Settings, client: MlflowClient) -> pd.DataFrame:
    """The proxy labels of every record date."""
    served, served_windows = read_served(settings)
    series = proxy_series(read_record(settings), labels_table(settings, None), settings.top_k)
    return finish_series(settings, client, served, served_windows, "proxy", series)


def realised_step(settings: Settings, client: MlflowClient) -> pd.DataFrame:
    """The realised NDCG@100 and IC of every record date whose label has matured."""
    served, served_windows = read_served(settings)
    label = realised_label(served)
    series = realised_series(read_record(settings), labels_table(settings, label), label)
    return finish_series(settings, client, served, served_windows, "realised", series)


def churn_step(settings: Settings, client: MlflowClient) -> pd.DataFrame:
    """Top-10 churn of the served model's feed, window over window.

    Only consecutive served windows are compared: the dates before them were scored by other models
    (the walk-forward folds), so the first window's change is a change of model, not of the feed.
    """
    served, served_windows = read_served(settings)
    series = churn_series(read_record(settings))
    dates = pd.to_datetime(series[EVENT_TIMESTAMP])
    kept = dates.isin(served_windows[1:])
    series.loc[~kept, CHURN] = np.nan
    return finish_series(settings, client, served, served_windows, "churn", series)


SERIES_STEPS = {"proxy": proxy_step, "realised": realised_step, "churn": churn_step}


def series_artifacts(settings: Settings, client: MlflowClient, name: str, json_path: str, html_path: str):
    """Run the series step `name` (a key of `SERIES_STEPS`) and copy its JSON and HTML page to the
    given paths (a KFP component's outputs)."""
    series = SERIES_STEPS[name](settings, client)
    Path(json_path).write_bytes(monitoring_file(settings, name).read_bytes())
    Path(html_path).write_text(report.series_page(series, name))
    return series


def finish_series(
    settings: Settings,
    client: MlflowClient,
    served: ServedModel,
    served_windows: list[pd.Timestamp],
    name: str,
    series: pd.DataFrame,
) -> pd.DataFrame:
    """Write a step's series as JSON and log its served windows' values to MLflow."""
    rows = frame_rows(series)
    write_json(monitoring_file(settings, name), rows)
    served_rows = [row for row in rows if row[EVENT_TIMESTAMP] in {str(w.date()) for w in served_windows}]
    tracking.log_window_metrics(client, settings, served, window_metrics(served_rows, numeric_metrics))
    return series


def decision_step(settings: Settings, client: MlflowClient, until_retrain: bool = False) -> list[Decision]:
    """Apply the policy (at the latest window, or at each until one retrains), write the report and JSON."""
    served, served_windows = read_served(settings)
    series = read_series(settings)
    decisions = replay(
        series,
        Policy.from_settings(settings),
        served_windows,
        until_retrain=until_retrain,
        model_name=served.name,
        model_version=served.version,
        model_age_days=(pd.Timestamp.now("UTC").tz_localize(None) - served.created) / pd.Timedelta(days=1),
        realised_horizon_days=label_horizon_days(realised_label(served)),
    )
    series.to_parquet(monitoring_file(settings, "series"), index=False)
    monitoring_file(settings, "decision").write_text(decisions[-1].to_json())
    write_json(monitoring_file(settings, "decisions"), [d.to_dict() for d in decisions])
    path = write_report(settings, served, series, decisions)
    for decision in decisions:
        tracking.log_decision(
            client, settings, served, decision, str(path) if decision is decisions[-1] else None
        )
    logger.info("decision at %s: %s", decisions[-1].window, "; ".join(decisions[-1].reasons))
    return decisions


def trigger_step(settings: Settings, client: MlflowClient) -> TriggerOutcome:
    """Launch the retrain the latest decision calls for."""
    decision = Decision.from_json(monitoring_file(settings, "decision").read_text())
    return trigger_retrain(settings, decision, client)


def run_monitor(
    settings: Settings,
    client: MlflowClient,
    version: str | None = None,
    *,
    until_retrain: bool = False,
    trigger: bool = True,
) -> MonitoringOutcome:
    """Every step in this process: what `skillrank monitor` runs.

    Args:
        settings: The deployment's settings (data root, model, decision policy, trigger).
        client: The MLflow client of the registry and of the monitoring runs.
        version: The registered version to monitor; by default the one the feed serves.
        until_retrain: Replay the served windows in order and stop at the first that retrains.
        trigger: Launch the retrain a retrain decision calls for.
    """
    record_step(settings, client, version)
    drift_step(settings, client)
    proxy_step(settings, client)
    realised_step(settings, client)
    churn_step(settings, client)
    decisions = decision_step(settings, client, until_retrain)
    outcome = trigger_step(settings, client) if trigger else None
    return MonitoringOutcome(decisions, settings.layout.monitoring_reports / REPORT_NAME, outcome)


def write_report(
    settings: Settings, served: ServedModel, series: pd.DataFrame, decisions: list[Decision]
) -> Path:
    """The monitoring report beside the latest window's drift report."""
    text = (
        f"Model {served.name} v{served.version}, trained on {served.train_start.date()}.."
        f"{served.train_end.date()} (label {served.label}); {len(series)} dates in the feed's record."
    )
    drift_html = settings.layout.drift_reports / HTML_NAME
    href = f"../{drift_html.parent.name}/{HTML_NAME}"  # beside reports/monitoring/
    html = report.monitoring_report(series, decisions, text, href if drift_html.exists() else None)
    return report.write_page(settings.layout.monitoring_reports / REPORT_NAME, html)


def read_series(settings: Settings) -> pd.DataFrame:
    """The step outputs joined into one series (one row per record date)."""
    record = read_record(settings)
    parts = [pd.DataFrame(read_json(monitoring_file(settings, name))) for name in FILES_OF_SERIES]
    parts = [part for part in parts if not part.empty]
    return series_frame(list(pd.to_datetime(record[EVENT_TIMESTAMP].unique())), *parts)


FILES_OF_SERIES = ("drift", "proxy", "realised", "churn")


def read_served(settings: Settings) -> tuple[ServedModel, list[pd.Timestamp]]:
    """The served model and its windows, as `record_step` wrote them."""
    path = monitoring_file(settings, "served")
    if not path.exists():
        raise DataError(f"no {path}: the record step runs first")
    values = read_json(path)
    served_windows = [pd.Timestamp(d) for d in values.pop("windows")]
    dates = {key: pd.Timestamp(values[key]) for key in ("train_start", "train_end", "created")}
    return ServedModel(**(values | dates)), served_windows


def served_dict(served: ServedModel, served_windows: list[pd.Timestamp]) -> dict:
    """`served` and its windows as JSON values."""
    values = asdict(served) | {
        key: str(getattr(served, key)) for key in ("train_start", "train_end", "created")
    }
    return values | {"windows": [str(w.date()) for w in served_windows]}


def read_record(settings: Settings) -> pd.DataFrame:
    """The feed's record `record_step` wrote."""
    record = pd.read_parquet(monitoring_file(settings, "record"))
    record[EVENT_TIMESTAMP] = pd.to_datetime(record[EVENT_TIMESTAMP])
    return record


def frame_rows(frame: pd.DataFrame) -> list[dict]:
    """A series as JSON rows: ISO dates, NaN as None."""
    rows = []
    for row in frame.to_dict("records"):
        row[EVENT_TIMESTAMP] = str(pd.Timestamp(row[EVENT_TIMESTAMP]).date())
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return rows


def window_metrics(rows: list[dict], metrics) -> dict[str, dict[str, float]]:
    """Per window, the MLflow metrics `metrics` makes of its row."""
    return {row[EVENT_TIMESTAMP]: metrics(row) for row in rows}


def numeric_metrics(row: dict) -> dict[str, float]:
    """The numeric values of a row (the date and counts aside are kept: counts are useful metrics)."""
    return {k: v for k, v in row.items() if k != EVENT_TIMESTAMP and isinstance(v, int | float | np.number)}


def write_json(path: Path, value) -> Path:
    """Write `value` as JSON (NumPy values as Python ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, default=_plain))
    return path


def read_json(path: Path):
    return json.loads(path.read_text())


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
