"""Evidence since inception (components/features/evidence.py), against NumPy OLS."""

from __future__ import annotations

import numpy as np
import pytest

from components.features.evidence import evidence_features, universe_levels
from tests.feature_world import (
    CLOSED_AFTER,
    EVIDENCE_DAYS,
    evidence_frames,
    evidence_world,
    month_period,
    ols_alpha_t,
)

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def world():
    return evidence_world()


@pytest.fixture(scope="module")
def evidence(spark, world):
    grid, sums = evidence_frames(spark, *world)
    return evidence_features(grid, sums).toPandas().set_index(["account_id", "period"])


def test_the_universe_level_chains_the_mean_daily_growth_of_the_stocks(spark, world):
    market, daily = world
    levels = universe_levels(spark.createDataFrame(market)).toPandas().set_index("date")["universe_level"]
    levels = levels.sort_index()
    expected = daily.loc[daily["account_id"] == "steady", "u"].to_numpy()[1:]
    assert len(levels) == len(EVIDENCE_DAYS) and levels.iloc[0] == 1.0  # the first market day starts it
    assert np.allclose(levels.to_numpy()[1:] / levels.to_numpy()[:-1] - 1, expected, rtol=1e-10)


def test_since_inception_evidence_uses_every_return_up_to_the_as_of_month(evidence, world):
    _, daily = world
    period = 2020 * 12 + 8  # September 2020
    rows = daily[(daily["account_id"] == "steady") & (daily["period"] <= period)].dropna(subset=["r"])
    r, m, u = (rows[c].to_numpy(dtype=float) for c in ("r", "m", "u"))
    got = evidence.loc[("steady", period)]
    assert got["sharpe_tstat_inception"] == pytest.approx(
        r.mean() / r.std(ddof=1) * np.sqrt(len(r)), rel=1e-9
    )
    assert got["alpha_tstat_inception"] == pytest.approx(ols_alpha_t(r, m), rel=1e-6)
    assert got["universe_alpha_tstat_inception"] == pytest.approx(ols_alpha_t(r, u), rel=1e-6)


def test_a_month_without_returns_carries_the_evidence_of_the_months_before(evidence):
    after_close = month_period(CLOSED_AFTER) + 2  # a grid month of "closer" without any return
    before = evidence.loc[("closer", month_period(CLOSED_AFTER)), "sharpe_tstat_inception"]
    assert evidence.loc[("closer", after_close), "sharpe_tstat_inception"] == pytest.approx(before)


def test_the_evidence_holds_no_label(evidence):
    assert not [column for column in evidence.columns if column.startswith("fwd_")]
