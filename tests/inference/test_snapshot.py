"""The feed's snapshot, on literal candidates: order, filters, diversity, arms, and its cache form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.scoring.finalize import ScoringConstants
from inference.experiment import CONTROL, TREATMENT
from inference.feed_request import FeedRequest
from inference.snapshot import FeedSnapshot, build_snapshot

CONSTANTS = ScoringConstants(
    neutral_score=0.0,
    prior_mean=0.0,
    prior_variance=1.0,
    score_scale=1.0,
    min_track_record_days=63,
    concentration_penalty=1.0,
    competing_accounts=100,
    sharpe_variance=0.004,
    fdr_p_cutoff=0.01,
)
INPUTS = ["sharpe_12m", "track_record_days"]


@pytest.fixture
def snapshot() -> FeedSnapshot:
    candidates = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "track_record_days": [500.0, 500.0, 500.0, 10.0],
            "returns_12m": 252.0,
            "sharpe_12m": [1.0, 2.0, 0.5, 3.0],
            "skew_12m": 0.0,
            "kurtosis_12m": 3.0,
            "hhi": 0.2,
            "universe_alpha_tstat_inception": [2.0, 1.0, 0.0, np.nan],
            "volatility_12m": [0.1, 0.5, np.nan, 0.2],
            "roi_since_inception": [0.1, 0.2, 3.0, 1.0],
            "tenure_days": [1000.0, 1000.0, 1000.0, 20.0],
        }
    )
    raw = np.array([1.0, 3.0, 2.0, 9.0])
    contributions = np.array([[0.5, 0.1], [-0.2, 0.3], [0.0, 0.4], [0.9, -0.1]])
    return build_snapshot(
        candidates, raw, contributions, INPUTS, CONSTANTS, model_version="4", as_of_date="2021-06-30"
    )


def ids(snapshot, rows) -> list[str]:
    return snapshot.columns["account_id"][rows].tolist()


def test_rows_are_in_the_order_of_finalize_scores(snapshot):
    assert snapshot.columns["account_id"].tolist() == ["b", "c", "a", "d"]  # d is new: the neutral score
    assert snapshot.columns["status"].tolist() == ["established"] * 3 + ["new"]


def test_reasons_quote_the_largest_contributions_first(snapshot):
    [b_reasons] = snapshot.entries(np.array([0]), TREATMENT)[0:1]
    assert b_reasons["reasons"][:2] == [
        "a 2.0-year track record lifted the score",
        "a 12-month Sharpe ratio of 2.0 lowered the score",
    ]


def test_the_top_k_of_the_model_order(snapshot):
    assert ids(snapshot, snapshot.select(FeedRequest(None, 2), TREATMENT)) == ["b", "c"]


def test_the_control_arm_orders_by_the_heuristic(snapshot):
    assert ids(snapshot, snapshot.select(FeedRequest("u", 4), CONTROL)) == ["c", "d", "b", "a"]
    entry = snapshot.entries(snapshot.select(FeedRequest("u", 1), CONTROL), CONTROL)[0]
    assert entry["score"] == pytest.approx(3.0 * np.log1p(1000.0))
    assert entry["reasons"] == ["a return of +300% since inception", "an account open for 2.7 years"]


def test_exclusions_and_the_risk_cap(snapshot):
    request = FeedRequest(None, 4, exclude_account_ids=("b", "zz"), max_risk=0.2)
    assert ids(snapshot, snapshot.select(request, TREATMENT)) == ["a", "d"]  # c: unknown risk never passes


def test_a_sector_filter_without_sectors_is_refused(snapshot):
    with pytest.raises(ValueError, match="knows no sectors"):
        snapshot.select(FeedRequest(None, 2, sectors=("Energy",)), TREATMENT)


def test_the_cached_form_reads_back_the_same_feed_marked_degraded(snapshot):
    restored = FeedSnapshot.from_ipc(snapshot.to_ipc())
    assert restored.degraded and not snapshot.degraded
    assert (restored.model_version, restored.as_of_date) == ("4", "2021-06-30")
    for arm in (TREATMENT, CONTROL):
        request = FeedRequest("u", 4, max_risk=0.6)
        original = snapshot.entries(snapshot.select(request, arm), arm)
        assert restored.entries(restored.select(request, arm), arm) == original


def test_marking_degraded_keeps_the_feed(snapshot):
    degraded = snapshot.mark_degraded()
    assert degraded.degraded and degraded.columns is snapshot.columns and degraded.mark_degraded() is degraded
