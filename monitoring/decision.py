"""The retraining decision: the rules of the policy read the monitoring time series at a window.

The series (`series_frame`) has one row per date of the feed's record: the drift of the served windows,
the proxy labels, the realised labels and the top-10 churn. A rule reads only what was known at the
window: drift and churn of the window itself, a proxy label from the next trading day on (dates before
the window), a realised label once its horizon has passed. Quality and churn are judged against their
own history, never against a fixed number:

- ``drift``: the last ``drift_windows`` windows all drifted (features or scores);
- ``proxy:<metric>`` / ``realised:<metric>``: the latest known value fell more than
  ``quality_drop_sigmas`` standard deviations below the mean of the earlier values (at least
  ``quality_min_history`` of them);
- ``churn``: the window's top-10 churn exceeds the median of the earlier windows' by ``churn_jump``;
- ``schedule``: the served model is older than ``retrain_every_days`` (0: never).

The decision records every rule, fired or not, with its numbers and a sentence.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from components.config.settings import Settings
from feature_repo.feature_schema import EVENT_TIMESTAMP

PROXY_METRICS = ("top_k_excess_1d", "ic_1d")
REALISED_METRICS = ("realised_ndcg_at_100", "realised_ic")
CHURN = "top10_churn"


@dataclass(frozen=True)
class Policy:
    """The decision policy (`Settings` fields of the same names)."""

    drift_windows: int = 3
    quality_drop_sigmas: float = 3.0
    quality_min_history: int = 4
    churn_jump: float = 0.5
    retrain_every_days: int = 7

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            drift_windows=settings.drift_windows,
            quality_drop_sigmas=settings.quality_drop_sigmas,
            quality_min_history=settings.quality_min_history,
            churn_jump=settings.churn_jump,
            retrain_every_days=settings.retrain_every_days,
        )


@dataclass(frozen=True)
class Decision:
    """Whether to retrain at a window, which rules fired and why; every rule's numbers in `rules`.

    Example:
        >>> decision = Decision("2021-06-30", "skillrank", "3", False, [], ["no rule fired"], {}, {})
        >>> Decision.from_json(decision.to_json()) == decision, decision.decision_id
        (True, 'skillrank-v3-2021-06-30')
    """

    window: str
    model_name: str
    model_version: str
    retrain: bool
    rules_fired: list[str]
    reasons: list[str]
    drifted_columns: dict[str, float]
    rules: dict[str, dict]

    @property
    def decision_id(self) -> str:
        """Names the decision: the served model and the window."""
        return f"{self.model_name}-v{self.model_version}-{self.window}"

    def to_dict(self) -> dict:
        return asdict(self) | {"decision_id": self.decision_id}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_plain)

    @classmethod
    def from_json(cls, text: str) -> Decision:
        values = json.loads(text)
        values.pop("decision_id", None)
        return cls(**values)


def series_frame(dates: list[pd.Timestamp], *parts: pd.DataFrame) -> pd.DataFrame:
    """One row per date, with the columns of each part (drift, proxy, realised, churn) joined on the date.

    Example:
        >>> dates = list(pd.to_datetime(["2021-05-31", "2021-06-30"]))
        >>> churn = pd.DataFrame({"as_of_date": dates[1:], "top10_churn": [0.2]})
        >>> series_frame(dates, churn)["top10_churn"].tolist()
        [nan, 0.2]
    """
    frame = pd.DataFrame({EVENT_TIMESTAMP: pd.to_datetime(sorted(set(dates)))})
    for part in parts:
        part = part.assign(**{EVENT_TIMESTAMP: pd.to_datetime(part[EVENT_TIMESTAMP])})
        frame = frame.merge(part, on=EVENT_TIMESTAMP, how="left", validate="one_to_one")
    return frame


def decide(
    series: pd.DataFrame,
    policy: Policy,
    window: pd.Timestamp,
    *,
    model_name: str,
    model_version: str,
    model_age_days: float,
    realised_horizon_days: int,
) -> Decision:
    """Apply every rule of `policy` to what `series` knew at `window`.

    Args:
        series: The monitoring series (`series_frame`); the drift columns (``drifted``,
            ``drifted_columns``, ``drift_scores``, ``score_psi``) are set on the served windows only.
        policy: The decision policy.
        window: The window to decide at (a date of `series`).
        model_name: The served model.
        model_version: Its version.
        model_age_days: Days since the served version was registered.
        realised_horizon_days: Horizon of the realised label: a date's value is known that many days later.

    Returns:
        The decision, with every rule's result.
    """
    window = pd.Timestamp(window)
    upto = series[series[EVENT_TIMESTAMP] <= window]
    dates = upto[EVENT_TIMESTAMP]
    results = {"drift": drift_rule(upto, policy)}
    for metric in PROXY_METRICS:
        results[f"proxy:{metric}"] = drop_rule(upto[dates < window], metric, policy)
    matured = dates + pd.Timedelta(days=realised_horizon_days) <= window
    for metric in REALISED_METRICS:
        results[f"realised:{metric}"] = drop_rule(upto[matured], metric, policy)
    results["churn"] = churn_rule(upto, policy, window)
    results["schedule"] = schedule_rule(model_age_days, policy)
    fired = [name for name, result in results.items() if result["fired"]]
    reasons = [results[name]["reason"] for name in fired] or ["no rule fired"]
    row = upto[dates == window]
    drifted = {}
    if len(row) and isinstance(row["drifted_columns"].iloc[0], list | np.ndarray):
        scores = row["drift_scores"].iloc[0]
        drifted = {name: float(scores[name]) for name in row["drifted_columns"].iloc[0]}
    return Decision(
        window=str(window.date()),
        model_name=model_name,
        model_version=str(model_version),
        retrain=bool(fired),
        rules_fired=fired,
        reasons=reasons,
        drifted_columns=drifted,
        rules=results,
    )


def replay(
    series: pd.DataFrame, policy: Policy, windows: list[pd.Timestamp], *, until_retrain: bool, **model
):
    """The decisions at `windows`: only at the last one, or (`until_retrain`) at each in order until one
    retrains. `model` holds the keyword arguments of `decide` that name the served model."""
    if not until_retrain:
        return [decide(series, policy, windows[-1], **model)]
    decisions = []
    for window in windows:
        decisions.append(decide(series, policy, window, **model))
        if decisions[-1].retrain:
            break
    return decisions


def drift_rule(upto: pd.DataFrame, policy: Policy) -> dict:
    """Fired when the last `drift_windows` served windows all drifted."""
    measured = upto[upto["drifted"].notna()] if "drifted" in upto else upto.iloc[:0]
    last = measured.tail(policy.drift_windows)
    dates = [str(d.date()) for d in last[EVENT_TIMESTAMP]]
    persisted = len(last) == policy.drift_windows and bool(last["drifted"].astype(bool).all())
    result = {"fired": persisted, "windows": dates, "drifted": [bool(v) for v in last["drifted"]]}
    if not len(last):
        return result | {"reason": "no served window measured for drift"}
    latest = last.iloc[-1]
    columns = ", ".join(f"{c} {latest['drift_scores'][c]:.3g}" for c in latest["drifted_columns"])
    psi = latest.get("score_psi")
    score = "" if psi is None or pd.isna(psi) else f"; score PSI {psi:.3g}"
    verdict = "persisted over" if persisted else "not in each of"
    reason = (
        f"drift {verdict} the last {policy.drift_windows} windows ({', '.join(dates)}); at {dates[-1]}: "
        f"{latest['drifted_share']:.0%} of the features drifted ({columns or 'none'}){score}"
    )
    return result | {"reason": reason}


def drop_rule(known: pd.DataFrame, metric: str, policy: Policy) -> dict:
    """Fired when the latest known value of `metric` fell `quality_drop_sigmas` below its history.

    Example:
        >>> known = pd.DataFrame({"as_of_date": pd.date_range("2021-01-31", periods=6, freq="ME"),
        ...     "ic_1d": [0.10, 0.12, 0.08, 0.11, 0.09, -0.20]})
        >>> drop_rule(known, "ic_1d", Policy())["fired"]
        True
    """
    values = known[[EVENT_TIMESTAMP, metric]].dropna() if metric in known else known.iloc[:0]
    result = {"fired": False, "metric": metric, "history": max(len(values) - 1, 0)}
    if len(values) <= policy.quality_min_history:
        return result | {"reason": f"{metric}: {max(len(values) - 1, 0)} earlier values, too few to judge"}
    history, latest = values[metric].iloc[:-1], float(values[metric].iloc[-1])
    mean, sd = float(history.mean()), float(history.std(ddof=1))
    floor = mean - policy.quality_drop_sigmas * sd
    fired = sd > 0 and latest < floor
    date = str(values[EVENT_TIMESTAMP].iloc[-1].date())
    sigmas = (mean - latest) / sd if sd > 0 else 0.0
    reason = (
        f"{metric} of {date} {'fell' if fired else 'is'} {latest:.3g}, {sigmas:.1f} sd below the mean "
        f"{mean:.3g} (sd {sd:.3g}) of its {len(history)} earlier values "
        f"(limit {policy.quality_drop_sigmas:g} sd)"
    )
    return result | {"fired": fired, "date": date, "value": latest, "mean": mean, "sd": sd, "reason": reason}


def churn_rule(upto: pd.DataFrame, policy: Policy, window: pd.Timestamp) -> dict:
    """Fired when the window's top-10 churn exceeds the median of the earlier dates' by `churn_jump`."""
    values = upto[[EVENT_TIMESTAMP, CHURN]].dropna() if CHURN in upto else upto.iloc[:0]
    result = {"fired": False, "history": max(len(values) - 1, 0)}
    if not len(values) or values[EVENT_TIMESTAMP].iloc[-1] != window:
        return result | {"reason": "no top-10 churn at the window (no earlier date)"}
    if len(values) <= policy.quality_min_history:
        return result | {"reason": f"top-10 churn: {len(values) - 1} earlier values, too few to judge"}
    latest, median = float(values[CHURN].iloc[-1]), float(values[CHURN].iloc[:-1].median())
    fired = latest - median >= policy.churn_jump
    reason = (
        f"top-10 churn {latest:.0%} {'jumped' if fired else 'is'} {latest - median:+.0%} against the median "
        f"{median:.0%} of its {len(values) - 1} earlier values (limit +{policy.churn_jump:.0%})"
    )
    return result | {"fired": fired, "value": latest, "median": median, "reason": reason}


def schedule_rule(model_age_days: float, policy: Policy) -> dict:
    """Fired when the served model is at least `retrain_every_days` old (never when that is 0)."""
    due = policy.retrain_every_days > 0 and model_age_days >= policy.retrain_every_days
    every = f"every {policy.retrain_every_days} days" if policy.retrain_every_days else "off"
    reason = f"the served model is {model_age_days:.1f} days old (schedule: {every})"
    return {"fired": due, "model_age_days": float(model_age_days), "reason": reason}


def _plain(value):
    """JSON for NumPy scalars and timestamps."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
