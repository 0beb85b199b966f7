"""Evidence since inception and the 12-month forward label (components/evidence.py), against NumPy OLS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.contract.tables import INDEX_SYMBOL
from components.features.evidence import FORWARD_PERIODS, evidence_features, evidence_sums, universe_levels

pytestmark = pytest.mark.spark

DAYS = pd.bdate_range("2020-01-01", "2021-06-30")
LAST_PERIOD = 2021 * 12 + 5  # June 2021: the last as-of month
CLOSED_AFTER = pd.Timestamp("2020-11-20")  # account "closer" has no snapshot after this day


def period_of(day: pd.Timestamp) -> int:
    return day.year * 12 + day.month - 1


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(5)
    closes = {
        "AAA": 100 * np.cumprod(1 + rng.normal(0.001, 0.02, len(DAYS))),
        "BBB": 50 * np.cumprod(1 + rng.normal(0.0, 0.01, len(DAYS))),
        INDEX_SYMBOL: 3000 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(DAYS))),
    }
    market = pd.DataFrame(
        [
            (day.date(), symbol, float(series[i]))
            for symbol, series in closes.items()
            for i, day in enumerate(DAYS)
        ],
        columns=["date", "symbol", "close"],
    )
    stock_growth = pd.DataFrame({s: closes[s][1:] / closes[s][:-1] for s in ("AAA", "BBB")}).mean(axis=1)
    universe = np.concatenate([[np.nan], stock_growth.to_numpy() - 1])
    index = np.concatenate([[np.nan], closes[INDEX_SYMBOL][1:] / closes[INDEX_SYMBOL][:-1] - 1])
    rows = []
    for account, edge in (("steady", 0.002), ("closer", 0.0)):
        days = DAYS if account == "steady" else DAYS[DAYS <= CLOSED_AFTER]
        r = edge + 0.8 * universe[: len(days)] + rng.normal(0, 0.01, len(days))
        r[0] = np.nan  # an account's first row has no return
        for i, day in enumerate(days):
            previous = days[i - 1].date() if i else None
            rows.append((account, period_of(day), day.date(), previous, r[i], index[i] if i else None))
    daily = pd.DataFrame(rows, columns=["account_id", "period", "date", "previous_date", "r", "m"])
    daily["u"] = np.where(daily["previous_date"].isna(), np.nan, np.tile(universe, 2)[: len(daily)])
    return market, daily


def ols_alpha_t(r: np.ndarray, x: np.ndarray) -> float:
    """t-statistic of the intercept of r on x, by NumPy least squares."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    residual = r - design @ coef
    sigma2 = residual @ residual / (len(r) - 2)
    return float(coef[0] / np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0]))


@pytest.fixture(scope="module")
def evidence(spark, world):
    market, daily = world
    sums = evidence_sums(
        spark.createDataFrame(daily.drop(columns="u").astype(object).where(daily.notna(), None)),
        universe_levels(spark.createDataFrame(market)),
    )
    grid = spark.createDataFrame(
        [(a, p) for a in ("steady", "closer") for p in range(2020 * 12, LAST_PERIOD + 1)],
        ["account_id", "period"],
    )
    return evidence_features(grid, sums, LAST_PERIOD).toPandas().set_index(["account_id", "period"])


def test_the_universe_level_chains_the_mean_daily_growth_of_the_stocks(spark, world):
    market, daily = world
    levels = universe_levels(spark.createDataFrame(market)).toPandas().set_index("date")["universe_level"]
    levels = levels.sort_index()
    expected = daily.loc[daily["account_id"] == "steady", "u"].to_numpy()[1:]
    assert len(levels) == len(DAYS) and levels.iloc[0] == 1.0  # the first market day starts the chain
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


def test_the_forward_label_uses_the_12_months_strictly_after_the_as_of_month(evidence, world):
    _, daily = world
    period = 2020 * 12 + 3  # April 2020: its window is May 2020 .. April 2021
    window = daily[
        (daily["account_id"] == "steady") & daily["period"].between(period + 1, period + FORWARD_PERIODS)
    ]
    expected = ols_alpha_t(window["r"].to_numpy(dtype=float), window["u"].to_numpy(dtype=float))
    assert evidence.loc[("steady", period), "fwd_alpha_tstat_12m"] == pytest.approx(expected, rel=1e-6)


def test_the_label_is_null_until_its_12_months_are_over(evidence):
    mature = LAST_PERIOD - FORWARD_PERIODS
    assert np.isfinite(evidence.loc[("steady", mature), "fwd_alpha_tstat_12m"])
    steady = evidence.loc["steady", "fwd_alpha_tstat_12m"]
    assert steady[steady.index > mature].isna().all() and (steady.index > mature).sum() == FORWARD_PERIODS


def test_an_account_that_closes_keeps_the_label_of_what_it_did(evidence, world):
    _, daily = world
    period = 2020 * 12 + 5  # June 2020: the account closes in November, inside the window
    window = daily[(daily["account_id"] == "closer") & (daily["period"] > period)].dropna(subset=["r"])
    expected = ols_alpha_t(window["r"].to_numpy(dtype=float), window["u"].to_numpy(dtype=float))
    assert evidence.loc[("closer", period), "fwd_alpha_tstat_12m"] == pytest.approx(expected, rel=1e-6)


def test_a_month_without_returns_carries_the_evidence_of_the_months_before(evidence):
    after_close = period_of(CLOSED_AFTER) + 2  # a grid month of "closer" without any return
    before = evidence.loc[("closer", period_of(CLOSED_AFTER)), "sharpe_tstat_inception"]
    assert evidence.loc[("closer", after_close), "sharpe_tstat_inception"] == pytest.approx(before)
