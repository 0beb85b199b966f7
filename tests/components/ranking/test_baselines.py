"""The heuristic baselines (components.ranking.baselines): literal traders, a test per baseline and error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from components.errors import DataError
from components.ranking.baselines import (
    BASELINES,
    REQUIRED_COLUMNS,
    baseline_scores,
    collective2_like,
    myfxbook_like,
    psr,
    roi_log_days,
    sharpe_12m,
)

# A lucky one-stock gambler (four months old, one meme stock, fat right tail) beside a steady,
# diversified trader with four years of history. Non-excess kurtosis; drawdowns >= 0.
TRADERS = pd.DataFrame(
    {
        "sharpe_12m": [1.5, 1.4],
        "skew_12m": [3.0, -0.1],
        "kurtosis_12m": [15.0, 4.0],
        "track_record_days": [120.0, 1000.0],
        "returns_12m": [120.0, 252.0],
        "tenure_days": [120.0, 1500.0],
        "return_12m": [3.0, 0.25],
        "roi_since_inception": [3.0, 1.1],
        "max_drawdown_12m": [0.6, 0.08],
        "volatility_12m": [1.2, 0.15],
    },
    index=["gambler", "steady"],
)


def test_roi_log_days_is_roi_times_log_age():
    scores = roi_log_days(TRADERS)
    assert scores["gambler"] == pytest.approx(3.0 * np.log1p(120.0))
    assert scores["steady"] == pytest.approx(1.1 * np.log1p(1500.0))


def test_sharpe_12m_ranks_the_gambler_first():
    scores = sharpe_12m(TRADERS)
    assert scores.tolist() == [1.5, 1.4]
    assert scores["gambler"] > scores["steady"]


def test_psr_matches_the_bailey_lopez_de_prado_formula():
    sr = 1.4 / np.sqrt(252)
    expected = norm.cdf(sr * np.sqrt(251) / np.sqrt(1 + 0.1 * sr + (4.0 - 1) / 4 * sr**2))
    assert psr(TRADERS)["steady"] == pytest.approx(expected)


def test_psr_prefers_the_long_steady_record_to_the_short_lucky_one():
    scores = psr(TRADERS)
    assert scores["steady"] > scores["gambler"]
    assert 0 < scores["gambler"] < scores["steady"] < 1


def test_psr_counts_the_returns_of_the_sharpe_window_not_the_whole_record():
    year, decade = TRADERS.assign(track_record_days=252.0), TRADERS.assign(track_record_days=2520.0)
    assert psr(decade).tolist() == pytest.approx(psr(year).tolist())
    assert psr(TRADERS.assign(returns_12m=60.0))["steady"] < psr(TRADERS)["steady"]


def test_psr_takes_missing_moments_as_normal_and_no_record_as_no_evidence():
    frame = pd.DataFrame(
        {
            "sharpe_12m": [2.0, 2.0, 2.0, np.nan],
            "skew_12m": [np.nan, 0.0, 0.0, 0.0],
            "kurtosis_12m": [np.nan, 3.0, 3.0, 3.0],
            "returns_12m": [60.0, 60.0, 1.0, 60.0],
        }
    )
    scores = psr(frame)
    assert scores[0] == pytest.approx(scores[1])
    assert scores[2] == pytest.approx(0.5)
    assert np.isnan(scores[3])


def test_collective2_like_rewards_growth_and_age_and_always_penalises_drawdown():
    frame = pd.DataFrame(
        {
            "return_12m": [np.e - 1, np.e - 1, 1 / np.e - 1, 1 / np.e - 1],
            "tenure_days": [np.e - 1] * 4,
            "max_drawdown_12m": [0.0, 1.0, 0.0, 1.0],
        }
    )
    # log growth 1 or -1, log age 1: gains divided by 1 + drawdown, losses multiplied by it
    assert collective2_like(frame).tolist() == pytest.approx([1.0, 0.5, -1.0, -2.0])
    # the heuristic is fooled by the lucky gambler, which is why the model must beat it
    assert collective2_like(TRADERS)["gambler"] > collective2_like(TRADERS)["steady"]


def test_myfxbook_like_is_gain_over_drawdown_times_volatility_with_floors():
    frame = pd.DataFrame(
        {
            "return_12m": [0.2, 0.2, -0.2, 0.0],
            "max_drawdown_12m": [0.1, 0.0, 0.5, 0.0],
            "volatility_12m": [0.2, 0.0, 0.4, 0.0],
        }
    )
    scores = myfxbook_like(frame)
    assert scores.tolist() == pytest.approx([10.0, 2000.0, -0.04, 0.0])
    assert np.isfinite(scores).all()


def test_baseline_scores_has_one_column_per_baseline():
    scores = baseline_scores(TRADERS)
    assert list(scores.columns) == list(BASELINES)
    assert scores.index.equals(TRADERS.index)
    assert scores["psr"].equals(psr(TRADERS))


@pytest.mark.parametrize("name", list(BASELINES))
def test_each_baseline_names_its_missing_columns(name):
    missing = REQUIRED_COLUMNS[name][-1]
    with pytest.raises(DataError, match=f"{name}.*{missing}"):
        BASELINES[name](TRADERS.drop(columns=missing))


def test_psr_names_the_moment_columns_the_feature_job_adds():
    with pytest.raises(DataError, match="skew_12m, kurtosis_12m"):
        psr(TRADERS.drop(columns=["skew_12m", "kurtosis_12m"]))


def test_baseline_scores_rejects_an_unknown_name():
    with pytest.raises(DataError, match="unknown baseline.*coin_flip"):
        baseline_scores(TRADERS, ["roi_log_days", "coin_flip"])


def test_psr_rejects_an_excess_kurtosis():
    with pytest.raises(ValueError, match="non-excess kurtosis"):
        psr(TRADERS.assign(kurtosis_12m=[12.0, 0.5]))
