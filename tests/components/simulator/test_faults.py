"""Fault injection: how many rows are picked, the platform day, corrupted values, unknown symbols."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from components.simulator.faults import corrupt_values, pick, pick_platform_day, unknown_symbol
from components.simulator.market_data import SECTORS


def test_pick_takes_about_rate_times_n_distinct_candidates_and_at_least_one():
    rng = np.random.default_rng(0)
    picked = pick(rng, np.arange(100, 200), 0.013, 1000)
    assert len(picked) == 13 and len(set(picked)) == 13 and set(picked) <= set(range(100, 200))
    assert len(pick(rng, np.arange(5), 1e-9, 10)) == 1
    assert len(pick(rng, np.arange(3), 0.5, 100)) == 3


def test_the_platform_day_is_interior_and_absent_from_short_windows(tiny_market):
    assert pick_platform_day(tiny_market, seed=1) == 1
    assert pick_platform_day(replace(tiny_market, n_days=2), seed=1) is None


def test_corrupt_values_zero_or_negate_only_the_picked_rows():
    trades = pa.table({"qty": [1.0, 2.0, 3.0], "price": [10.0, 20.0, 30.0]})
    out = corrupt_values(trades, np.array([0]), np.array([2]), np.random.default_rng(0))
    assert out["qty"].to_pylist()[0] in (0.0, -1.0) and out["qty"].to_pylist()[1:] == [2.0, 3.0]
    assert out["price"].to_pylist()[2] in (0.0, -30.0) and out["price"].to_pylist()[:2] == [10.0, 20.0]


def test_unknown_symbols_are_never_market_symbols():
    garbled = {unknown_symbol(symbol, kind) for symbol in SECTORS for kind in range(4)}
    assert not garbled & set(SECTORS)
    assert {"AAPL.US", "aapl", "APPL", ""} <= garbled
