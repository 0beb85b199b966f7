"""The market window of a simulated world: its days, the hot stock per day and the sector codes."""

from __future__ import annotations

from datetime import date

import numpy as np

from components.simulator.market import build_market, hot_symbols, sector_codes
from components.simulator.market_data import load_closes
from components.simulator.params import WorldParams


def test_the_window_adds_history_before_and_the_longest_period_after_the_simulated_days():
    params = WorldParams()
    market = build_market(date(2020, 2, 1), date(2020, 3, 31), params)
    simulated = load_closes(date(2020, 2, 1), date(2020, 3, 31)).index.to_numpy().astype("datetime64[D]")
    assert market.first == params.hot_lookback_days
    np.testing.assert_array_equal(market.days[market.first : market.first + market.n_days], simulated)
    assert len(market.days) == market.first + market.n_days + params.rebalance_days[1]


def test_the_hot_symbol_is_the_best_trailing_stock_never_the_index():
    log_close = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.5], [0.1, 0.3, 0.9]])
    hot = hot_symbols(log_close, np.array(["XOM", "JPM", "SPX"]), lookback=1)
    np.testing.assert_array_equal(hot, [0, 0, 1])


def test_sector_codes_number_the_sorted_sectors_and_give_the_index_minus_one():
    codes = sector_codes(np.array(["XOM", "AAPL", "SPX", "JPM"]))
    np.testing.assert_array_equal(codes, [0, 2, -1, 1])  # Energy, Financials, Information Technology
