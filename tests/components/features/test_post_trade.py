"""Post-trade evidence (components/features/post_trade.py): values on the hand-made world, point in time."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from components.contract.tables import INDEX_SYMBOL
from components.features.calendar import AsOfCalendar, month_period, trading_day_frames
from components.features.evidence import universe_levels
from components.features.post_trade import (
    HORIZONS,
    MIN_POST_TRADES,
    POST_TRADE_FEATURES,
    WINDOW_MONTHS,
    post_trade_features,
    post_trade_sums,
    post_trade_windows,
)
from feature_repo.feature_schema import FEATURES, POST_TRADE_WINDOWS, post_trade_names
from tests.feature_world import (
    A_TRADES,
    ASOF,
    E_OPEN_AT_JAN,
    E_TRADES,
    FEB,
    JAN,
    MAR,
    MARKET_DAYS,
    closes,
    window_start,
    world_trades,
)

pytestmark = pytest.mark.spark


def asof_in(year: int, month: int) -> date:
    return next(d for d in ASOF if (d.year, d.month) == (year, month))


def universe_level(prices: dict[str, dict[date, float]]) -> dict[date, float]:
    """The equal-weight universe of the world's stocks: the chained mean of their daily growths."""
    stocks = pd.DataFrame({s: pd.Series(p) for s, p in prices.items() if s != INDEX_SYMBOL}).sort_index()
    level = (stocks / stocks.shift()).mean(axis=1).fillna(1.0).cumprod()
    return level.to_dict()


def post_trade_returns(
    trades: list, horizon: int, as_of: date, months: int | None = None, prices: dict | None = None
) -> list[float]:
    """Signed returns over the universe of the `horizon` trading days after each trade, for the trades
    whose window closed by `as_of` (and, with `months`, after the as-of date that many months back)."""
    prices = prices or closes()
    level, start = universe_level(prices), (window_start(as_of, months) if months else None) or date.min
    returns = []
    for ts, symbol, side, _ in trades:
        base = max(i for i, day in enumerate(MARKET_DAYS) if day <= ts.date())
        b, e = MARKET_DAYS[base], MARKET_DAYS[base + horizon]
        if start < e <= as_of:
            relative = prices[symbol][e] / prices[symbol][b] - level[e] / level[b]
            returns.append(relative if side == "buy" else -relative)
    return returns


def test_the_schema_declares_every_post_trade_feature_in_the_jobs_windows():
    assert set(WINDOW_MONTHS) == set(POST_TRADE_WINDOWS)
    assert set(POST_TRADE_FEATURES) <= set(FEATURES) and len(POST_TRADE_FEATURES) == 12


@pytest.mark.parametrize("horizon", HORIZONS)
def test_mean_and_t_statistic_since_inception_match_a_reference(built, horizon):
    _, features, _ = built
    mean_name, tstat_name = post_trade_names(horizon, "inception")
    returns = post_trade_returns(E_TRADES, horizon, MAR)
    assert len(returns) == len(E_TRADES)  # by March every window has closed
    assert features.loc[("E", MAR), mean_name] == pytest.approx(np.mean(returns), rel=1e-9)
    assert features.loc[("E", MAR), tstat_name] == pytest.approx(
        stats.ttest_1samp(returns, 0.0).statistic, rel=1e-9
    )
    # A trades on a Saturday: measured from Friday's close, like the rest.
    a_returns = post_trade_returns(A_TRADES, horizon, asof_in(2021, 6))
    assert features.loc[("A", asof_in(2021, 6)), tstat_name] == pytest.approx(
        stats.ttest_1samp(a_returns, 0.0).statistic, rel=1e-9
    )


def test_a_window_still_open_at_the_as_of_date_does_not_count(built):
    _, features, _ = built
    for horizon in (5, 10):  # the trade of Jan 25 closes after JAN at both horizons
        mean_name, tstat_name = post_trade_names(horizon, "inception")
        closed = post_trade_returns(E_TRADES, horizon, JAN)
        assert len(closed) == len(E_TRADES) - 1
        got = features.loc[("E", JAN), tstat_name]
        assert got == pytest.approx(stats.ttest_1samp(closed, 0.0).statistic, rel=1e-9)
        counted_early = closed + post_trade_returns([E_OPEN_AT_JAN], horizon, FEB)
        assert not math.isclose(got, stats.ttest_1samp(counted_early, 0.0).statistic, rel_tol=1e-3)
        assert features.loc[("E", JAN), mean_name] == pytest.approx(np.mean(closed), rel=1e-9)
    # 20 trading days after the first trade of Jan 4 is Feb 1: at JAN no window has closed.
    assert post_trade_returns(E_TRADES, 20, JAN) == []
    assert features.loc[("E", JAN), list(post_trade_names(20, "inception"))].isna().all()


def test_fewer_closed_windows_than_the_minimum_give_null(built):
    _, features, _ = built
    assert len(post_trade_returns(A_TRADES, 10, FEB)) == 4 < MIN_POST_TRADES
    assert features.loc[("A", FEB), list(post_trade_names(10, "inception"))].isna().all()
    assert features.loc["C", list(POST_TRADE_FEATURES)].isna().all().all()  # C never trades


def test_the_12_month_window_counts_the_windows_closed_in_its_periods(built):
    _, features, _ = built
    horizon, late = 20, asof_in(2022, 1)  # E's 20-day windows all closed in February 2021
    returns = post_trade_returns(E_TRADES, horizon, late, months=12)
    assert len(returns) == len(E_TRADES)
    mean_12m, tstat_12m = post_trade_names(horizon, "12m")
    assert features.loc[("E", late), tstat_12m] == pytest.approx(
        stats.ttest_1samp(returns, 0.0).statistic, rel=1e-9
    )
    assert features.loc[("E", late), mean_12m] == pytest.approx(np.mean(returns), rel=1e-9)
    later = asof_in(2022, 2)  # February 2021 has left the window; inception keeps it
    assert features.loc[("E", later), [mean_12m, tstat_12m]].isna().all()
    assert features.loc[("E", later), post_trade_names(horizon, "inception")[1]] == pytest.approx(
        features.loc[("E", late), tstat_12m]
    )


def post_trade_at(spark, prices: dict[str, dict[date, float]]) -> pd.DataFrame:
    """The post-trade features of E at every as-of date of the world, from `prices` as the market."""
    market = spark.createDataFrame(
        [(day, symbol, float(close)) for symbol, series in prices.items() for day, close in series.items()],
        "date date, symbol string, close double",
    )
    trading, base_days = trading_day_frames(spark, AsOfCalendar(ASOF, MARKET_DAYS[0], MARKET_DAYS))
    trades = spark.createDataFrame(world_trades().query("account_id == 'E'"))
    windows = post_trade_windows(market, trading, universe_levels(market))
    grid = spark.createDataFrame([("E", month_period(d)) for d in ASOF], "account_id string, period int")
    features = post_trade_features(grid, post_trade_sums(trades, base_days, windows)).toPandas()
    return features.drop(columns="account_id").set_index("period").sort_index()


def test_prices_after_the_as_of_date_never_move_its_features(spark):
    prices = closes()
    shocked = {
        s: {d: c * (3.0 if s == "DDD" and d > JAN else 1.0) for d, c in p.items()} for s, p in prices.items()
    }
    before, after = post_trade_at(spark, prices), post_trade_at(spark, shocked)
    pd.testing.assert_series_equal(before.loc[month_period(JAN)], after.loc[month_period(JAN)])
    # The shock is real: once the open DDD trade's window has closed (FEB), it moves every horizon.
    assert (before.loc[month_period(FEB)] != after.loc[month_period(FEB)]).all()
