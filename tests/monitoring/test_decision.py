"""The decision policy: each rule on literal series, what it knew at the window, and the replay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.decision import Decision, Policy, decide, replay, series_frame

DATES = list(pd.date_range("2021-01-31", periods=10, freq="ME"))
MODEL = {"model_name": "skillrank", "model_version": "3", "model_age_days": 1.0, "realised_horizon_days": 30}
POLICY = Policy(
    drift_windows=3, quality_drop_sigmas=3.0, quality_min_history=4, churn_jump=0.5, retrain_every_days=7
)


def series(**columns) -> pd.DataFrame:
    """A monitoring series over DATES: quiet by default, `columns` (name -> values) replacing a column."""
    quiet = {
        "drifted": [False] * 10,
        "drifted_share": [0.1] * 10,
        "drifted_columns": [[]] * 10,
        "drift_scores": [{"hhi": 0.02}] * 10,
        "score_psi": [0.05] * 10,
        "ic_1d": [0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.12, 0.08, 0.11, 0.09],
        "top_k_excess_1d": [0.001] * 10,
        "realised_ndcg_at_100": [0.70, 0.72, 0.68, 0.71, 0.69, 0.70, 0.72, 0.68, 0.71, 0.69],
        "realised_ic": [0.2] * 10,
        "top10_churn": [np.nan, 0.2, 0.3, 0.2, 0.2, 0.3, 0.2, 0.2, 0.3, 0.2],
    }
    return pd.DataFrame({"as_of_date": DATES} | quiet | columns)


def drifted_at(indices: list[int]) -> dict:
    flags = [i in indices for i in range(10)]
    return {
        "drifted": flags,
        "drifted_share": [0.6 if f else 0.1 for f in flags],
        "drifted_columns": [["hhi", "n_tickers"] if f else [] for f in flags],
        "drift_scores": [{"hhi": 1.2, "n_tickers": 0.8} if f else {"hhi": 0.02} for f in flags],
    }


def test_a_quiet_series_keeps_the_model_and_says_so():
    decision = decide(series(), POLICY, DATES[-1], **MODEL)
    assert decision.retrain is False and decision.rules_fired == []
    assert decision.reasons == ["no rule fired"]
    assert set(decision.rules) == {
        "drift",
        "proxy:top_k_excess_1d",
        "proxy:ic_1d",
        "realised:realised_ndcg_at_100",
        "realised:realised_ic",
        "churn",
        "schedule",
    }


def test_drift_over_the_last_n_windows_retrains_and_names_the_columns():
    decision = decide(series(**drifted_at([7, 8, 9])), POLICY, DATES[-1], **MODEL)
    assert decision.retrain is True and decision.rules_fired == ["drift"]
    assert decision.drifted_columns == {"hhi": 1.2, "n_tickers": 0.8}
    assert decision.rules["drift"]["windows"] == ["2021-08-31", "2021-09-30", "2021-10-31"]
    assert decision.reasons[0].startswith("drift persisted over the last 3 windows (2021-08-31, ")
    assert "hhi 1.2, n_tickers 0.8" in decision.reasons[0]


def test_drift_that_does_not_persist_keeps_the_model():
    decision = decide(series(**drifted_at([6, 7, 9])), POLICY, DATES[-1], **MODEL)
    assert decision.retrain is False
    assert decision.rules["drift"]["drifted"] == [True, False, True]


def test_drift_is_read_on_the_served_windows_only():
    drift = drifted_at([8, 9])
    drift["drifted"] = [None] * 7 + [True, True, True]  # the first seven dates are not served windows
    decision = decide(series(**drift), POLICY, DATES[-1], **MODEL)
    assert decision.retrain is True
    assert decision.rules["drift"]["windows"] == [str(d.date()) for d in DATES[7:]]


def test_a_proxy_fall_against_its_own_history_retrains_once_its_next_day_is_known():
    ic = [0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.12, 0.08, -0.30, np.nan]
    decision = decide(series(ic_1d=ic), POLICY, DATES[-1], **MODEL)
    assert decision.rules_fired == ["proxy:ic_1d"]
    rule = decision.rules["proxy:ic_1d"]
    assert rule["date"] == "2021-09-30" and rule["value"] == pytest.approx(-0.30)
    assert rule["mean"] == pytest.approx(np.mean(ic[:8])) and rule["sd"] == pytest.approx(
        np.std(ic[:8], ddof=1)
    )
    # At the fall's own date its next trading day is not known yet: nothing fires.
    assert decide(series(ic_1d=ic), POLICY, DATES[8], **MODEL).retrain is False


def test_the_same_value_is_no_fall_for_a_noisier_history():
    noisy = [0.3, -0.3, 0.4, -0.2, 0.1, -0.4, 0.3, -0.1, -0.30, np.nan]
    assert decide(series(ic_1d=noisy), POLICY, DATES[-1], **MODEL).retrain is False


def test_a_fall_needs_enough_history():
    short = [np.nan] * 6 + [0.1, 0.11, -0.5, np.nan]
    decision = decide(series(ic_1d=short), POLICY, DATES[-1], **MODEL)
    assert decision.retrain is False
    assert "too few to judge" in decision.rules["proxy:ic_1d"]["reason"]


def test_a_realised_fall_counts_only_once_its_horizon_has_passed():
    ndcg = [0.70, 0.72, 0.68, 0.71, 0.69, 0.70, 0.72, 0.68, 0.40, np.nan]
    at_the_end = decide(series(realised_ndcg_at_100=ndcg), POLICY, DATES[-1], **MODEL)
    assert at_the_end.rules_fired == ["realised:realised_ndcg_at_100"]
    longer = MODEL | {"realised_horizon_days": 366}  # a 12-month label has not matured for any of them
    assert decide(series(realised_ndcg_at_100=ndcg), POLICY, DATES[-1], **longer).retrain is False


def test_a_churn_jump_over_its_median_retrains():
    churn = [np.nan, 0.2, 0.3, 0.2, 0.2, 0.3, 0.2, 0.2, 0.3, 0.9]
    decision = decide(series(top10_churn=churn), POLICY, DATES[-1], **MODEL)
    assert decision.rules_fired == ["churn"]
    assert decision.rules["churn"]["median"] == pytest.approx(0.2)
    assert decision.reasons == [
        "top-10 churn 90% jumped +70% against the median 20% of its 8 earlier values (limit +50%)"
    ]


def test_a_model_older_than_the_schedule_retrains_and_a_zero_schedule_never():
    old = MODEL | {"model_age_days": 8.0}
    assert decide(series(), POLICY, DATES[-1], **old).rules_fired == ["schedule"]
    never = Policy(retrain_every_days=0)
    assert decide(series(), never, DATES[-1], **old).retrain is False


def test_every_rule_that_fires_gives_its_reason():
    churn = [np.nan, 0.2, 0.3, 0.2, 0.2, 0.3, 0.2, 0.2, 0.3, 0.9]
    decision = decide(series(top10_churn=churn, **drifted_at([7, 8, 9])), POLICY, DATES[-1], **MODEL)
    assert decision.rules_fired == ["drift", "churn"] and len(decision.reasons) == 2


def test_replay_stops_at_the_first_window_that_retrains():
    drift = series(**drifted_at([5, 6, 7, 8, 9]))
    decisions = replay(drift, POLICY, DATES[3:], until_retrain=True, **MODEL)
    assert [d.window for d in decisions] == [
        "2021-04-30",
        "2021-05-31",
        "2021-06-30",
        "2021-07-31",
        "2021-08-31",
    ]
    assert [d.retrain for d in decisions] == [False, False, False, False, True]


def test_replay_of_a_quiet_series_decides_at_every_window_and_never_retrains():
    decisions = replay(series(), POLICY, DATES, until_retrain=True, **MODEL)
    assert len(decisions) == 10 and not any(d.retrain for d in decisions)


def test_without_replay_only_the_latest_window_is_decided():
    decisions = replay(series(**drifted_at([7, 8, 9])), POLICY, DATES, until_retrain=False, **MODEL)
    assert [d.window for d in decisions] == ["2021-10-31"] and decisions[0].retrain


def test_the_decision_round_trips_through_json():
    decision = decide(series(**drifted_at([7, 8, 9])), POLICY, DATES[-1], **MODEL)
    assert Decision.from_json(decision.to_json()) == decision
    assert decision.decision_id == "skillrank-v3-2021-10-31"


def test_series_frame_joins_the_parts_on_the_date():
    proxy = pd.DataFrame({"as_of_date": ["2021-01-31", "2021-02-28"], "ic_1d": [0.1, 0.2]})
    churn = pd.DataFrame({"as_of_date": DATES[1:2], "top10_churn": [0.3]})
    frame = series_frame(DATES[:3], proxy, churn)
    assert frame["ic_1d"].tolist()[:2] == [0.1, 0.2] and np.isnan(frame["ic_1d"].iloc[2])
    assert frame["top10_churn"].notna().tolist() == [False, True, False]


def test_the_policy_comes_from_the_settings():
    from components.config.settings import Settings

    policy = Policy.from_settings(Settings(drift_windows=5, churn_jump=0.3, retrain_every_days=0))
    assert (policy.drift_windows, policy.churn_jump, policy.retrain_every_days) == (5, 0.3, 0)
