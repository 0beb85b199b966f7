"""Trading features of the Spark feature job: holdings shares, activity, and the edge of trades."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy import stats

from tests.feature_world import (
    A_TRADES,
    E_HOLDINGS,
    E_OPEN_AT_JAN,
    E_TRADES,
    FEB,
    JAN,
    MAR,
    MARKET_DAYS,
    SECTORS,
    account_snapshot_rows,
    closes,
    position_values,
    window_start,
    world_trades,
)

pytestmark = pytest.mark.spark

DAYS_PER_MONTH = 365.25 / 12


def test_holding_shares_by_position_and_by_sector(built):
    _, features, _ = built
    values = position_values(E_HOLDINGS, JAN)
    total = sum(values.values())
    by_sector: dict[str, float] = {}
    for symbol, value in values.items():
        sector = SECTORS.get(symbol, symbol)  # DDD has no sector: a sector of its own
        by_sector[sector] = by_sector.get(sector, 0.0) + value
    stock_sectors = {sector: v for sector, v in by_sector.items() if sector != "Index"}
    assert len(values) == 5 and len(stock_sectors) == 3  # Tech (AAA, CCC), Energy (BBB), DDD
    row = features.loc[("E", JAN)]
    assert row["top3_share"] == pytest.approx(sum(sorted(values.values())[-3:]) / total)
    assert row["max_sector_share"] == pytest.approx(max(stock_sectors.values()) / total)
    assert row["sector_count"] == 3
    assert row["index_share"] == pytest.approx(values["SPX"] / total)
    assert row["n_tickers"] == 5


def test_shares_of_a_three_position_book_and_of_an_empty_one(built):
    _, features, _ = built
    a_feb = features.loc[("A", FEB)]  # AAA (Tech), BBB (Energy) and SPX: three holdings, top 3 is all
    values = position_values({"AAA": 6.0, "BBB": 25.0, "SPX": 2.0}, FEB)
    largest_sector = max(values["AAA"], values["BBB"])  # the index is in the denominator only
    assert a_feb["top3_share"] == 1.0  # exactly: a share that is whole must not differ by a rounding
    assert a_feb["max_sector_share"] == pytest.approx(largest_sector / sum(values.values()))
    c = features.loc[("C", FEB)]  # holds nothing
    assert c["sector_count"] == 0 and c[["top3_share", "max_sector_share", "index_share"]].isna().all()


def test_activity_trade_frequency_turnover_and_holding_period(built):
    _, features, _ = built
    trades = world_trades().query("account_id == 'A'")
    notional = (trades["qty"] * trades["price"])[trades["ts"].dt.date <= FEB].sum()
    equity = account_snapshot_rows("A").query("date <= @FEB")["equity"].mean()
    gross = [sum(position_values({"AAA": 10.0, "BBB": 25.0}, JAN).values())]
    gross += [sum(position_values({"AAA": 6.0, "BBB": 25.0, "SPX": 2.0}, FEB).values())]
    row = features.loc[("A", FEB)]  # two months on the grid, five trades (one on the Saturday after JAN)
    assert row["trade_frequency"] == pytest.approx(5 / 2)
    assert row["turnover_12m"] == pytest.approx(notional / equity * 12 / 2)
    assert row["avg_holding_days"] == pytest.approx(2 * np.mean(gross) / (notional / (2 * DAYS_PER_MONTH)))
    late = features.loc[("A", date(2022, 2, 28))]  # twelve months on the grid, one trade (Mar 3) left
    assert late["trade_frequency"] == pytest.approx(1 / 12)
    assert np.isnan(features.loc[("A", date(2022, 4, 14)), "avg_holding_days"])  # no trade in the window


def test_net_deposits_are_the_cumulative_flows_at_the_as_of_date(built):
    _, features, _ = built
    assert features.loc["A", "net_deposits"].loc[[JAN, FEB, MAR]].tolist() == [1500.0, 1500.0, 1200.0]
    assert features.loc[("E", JAN), "net_deposits"] == 1000.0


def trade_edges(trades: list, as_of: date) -> list[float]:
    """Signed 10-trading-day returns over the S&P 500 of the trades in the 12 months to `as_of` whose
    window (from the last trading day on or before the trade) has closed by `as_of`."""
    prices, start = closes(), window_start(as_of) or date.min
    edges = []
    for ts, symbol, side, _ in trades:
        base = max(i for i, day in enumerate(MARKET_DAYS) if day <= ts.date())
        b, e = MARKET_DAYS[base], MARKET_DAYS[base + 10]
        if start < ts.date() <= as_of and e <= as_of:
            excess = prices[symbol][e] / prices[symbol][b] - prices["SPX"][e] / prices["SPX"][b]
            edges.append(excess if side == "buy" else -excess)
    return edges


def test_the_trade_edge_counts_only_windows_closed_by_the_as_of_date(built):
    _, features, _ = built
    closed_at_jan = trade_edges(E_TRADES, JAN)
    assert len(closed_at_jan) == len(E_TRADES) - 1  # the trade of Jan 25 closes on Feb 8
    got = features.loc[("E", JAN), "trade_edge_tstat_12m"]
    assert got == pytest.approx(stats.ttest_1samp(closed_at_jan, 0.0).statistic)
    closed_elsewhere = trade_edges([E_OPEN_AT_JAN], FEB)  # the planted trade's edge, had it counted
    with_open = closed_at_jan + closed_elsewhere
    assert not math.isclose(got, stats.ttest_1samp(with_open, 0.0).statistic, rel_tol=1e-3)
    # At FEB the planted trade's window has closed, and it counts.
    assert features.loc[("E", FEB), "trade_edge_tstat_12m"] == pytest.approx(
        stats.ttest_1samp(trade_edges(E_TRADES, FEB), 0.0).statistic
    )


def test_the_trade_edge_needs_five_closed_trades(built):
    _, features, _ = built
    assert len(trade_edges(A_TRADES, FEB)) == 4  # the SPX buy of Feb 16 closes on Mar 2
    assert np.isnan(features.loc[("A", FEB), "trade_edge_tstat_12m"])
    edges = trade_edges(A_TRADES, MAR)  # the Saturday sale is measured from Friday's close
    assert len(edges) == 6
    want = stats.ttest_1samp(edges, 0.0).statistic
    assert features.loc[("A", MAR), "trade_edge_tstat_12m"] == pytest.approx(want)
