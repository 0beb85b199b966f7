"""The market the accounts trade: the real closes of the simulated days, with history and future around.

The window reaches back ``hot_lookback_days`` (the trailing return that names the hot stock) and forward
the longest rebalancing period (the forward returns a private signal knows, which may reach past ``end``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from components.contract.tables import INDEX_SYMBOL
from components.errors import DataError
from components.simulator.market_data import SECTORS, load_closes
from components.simulator.params import WorldParams


@dataclass(frozen=True)
class Market:
    """Closes of an extended window around the simulated days (history for signals, future for skill)."""

    symbols: np.ndarray
    days: np.ndarray
    close: np.ndarray
    log_close: np.ndarray
    first: int
    n_days: int
    hot: np.ndarray
    sector_codes: np.ndarray

    @property
    def n_sectors(self) -> int:
        return int(self.sector_codes.max()) + 1


def build_market(start: date, end: date, params: WorldParams) -> Market:
    """The closes of [start, end] plus the history and future the accounts' signals need."""
    closes = load_closes()
    first = int(closes.index.searchsorted(np.datetime64(start)))
    stop = int(closes.index.searchsorted(np.datetime64(end), side="right"))
    if stop <= first:
        raise DataError(f"No trading day between {start} and {end}: the data covers 1990-01-02..2022-12-28.")
    lo = max(first - params.hot_lookback_days, 0)
    window = closes.iloc[lo : stop + params.rebalance_days[1]]
    symbols = np.array(window.columns)
    log_close = np.log(window.to_numpy())
    return Market(
        symbols=symbols,
        days=window.index.to_numpy().astype("datetime64[D]"),
        close=window.to_numpy(),
        log_close=log_close,
        first=first - lo,
        n_days=stop - first,
        hot=hot_symbols(log_close, symbols, params.hot_lookback_days),
        sector_codes=sector_codes(symbols),
    )


def hot_symbols(log_close: np.ndarray, symbols: np.ndarray, lookback: int) -> np.ndarray:
    """Per day, the index of the stock (never the index) with the best trailing `lookback`-day return."""
    back = np.maximum(np.arange(len(log_close)) - lookback, 0)
    trailing = log_close - log_close[back]
    trailing[:, symbols == INDEX_SYMBOL] = -np.inf
    return trailing.argmax(axis=1)


def sector_codes(symbols: np.ndarray) -> np.ndarray:
    """An integer code per symbol's sector, -1 for the index."""
    names = sorted({SECTORS[s] for s in symbols if s != INDEX_SYMBOL})
    return np.array([-1 if s == INDEX_SYMBOL else names.index(SECTORS[s]) for s in symbols])
