"""A hand-made market of a few days and symbols, for the simulator's unit tests."""

from __future__ import annotations

import numpy as np
import pytest

from components.simulator.market import Market


@pytest.fixture
def tiny_market() -> Market:
    """Five days (the first is history) of two stocks and the index, with literal closes."""
    close = np.array(
        [
            [10.0, 20.0, 100.0],
            [11.0, 20.0, 101.0],
            [12.0, 19.0, 103.0],
            [12.0, 22.0, 102.0],
            [13.0, 21.0, 104.0],
        ]
    )
    return Market(
        symbols=np.array(["XOM", "JPM", "SPX"]),
        days=np.arange("2020-01-02", "2020-01-07", dtype="datetime64[D]"),
        close=close,
        log_close=np.log(close),
        first=1,
        n_days=3,
        hot=np.array([0, 0, 0, 1, 1]),
        sector_codes=np.array([0, 1, -1]),
    )
