"""Real daily closes of 20 S&P 500 stocks and the S&P 500 index, shipped inside skfolio (no network).

The index is the symbol ``SPX`` (sector ``Index``), tradable at the index level. The closes are the
trading calendar of every simulated world.

Example:
    >>> from datetime import date
    >>> market = market_table(date(2020, 1, 2), date(2020, 1, 3))
    >>> sorted(market["symbol"].unique())[:3]
    ['AAPL', 'AMD', 'BAC']
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from skfolio.datasets import load_sp500_dataset, load_sp500_index

from components.contract.tables import INDEX_SECTOR, INDEX_SYMBOL
from components.errors import DataError

SECTORS: dict[str, str] = {
    "AAPL": "Information Technology",
    "AMD": "Information Technology",
    "MSFT": "Information Technology",
    "BAC": "Financials",
    "JPM": "Financials",
    "BBY": "Consumer Discretionary",
    "HD": "Consumer Discretionary",
    "CVX": "Energy",
    "XOM": "Energy",
    "RRC": "Energy",
    "GE": "Industrials",
    "JNJ": "Health Care",
    "LLY": "Health Care",
    "MRK": "Health Care",
    "PFE": "Health Care",
    "UNH": "Health Care",
    "KO": "Consumer Staples",
    "PEP": "Consumer Staples",
    "PG": "Consumer Staples",
    "WMT": "Consumer Staples",
    INDEX_SYMBOL: INDEX_SECTOR,
}


def load_closes(start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Daily closes in wide format: one row per trading day, one column per symbol (``SPX`` last).

    Args:
        start: First date kept (inclusive); None keeps the whole history (from 1990-01-02).
        end: Last date kept (inclusive); None keeps the whole history (to 2022-12-28).

    Returns:
        DataFrame indexed by a ``DatetimeIndex`` named ``date``, columns sorted stocks then ``SPX``.

    Raises:
        DataError: If no trading day falls in [start, end].
        ValueError: If a stock has no sector (``SECTORS`` lags the dataset).
    """
    stocks = load_sp500_dataset()
    _check_sectors(stocks.columns)
    closes = stocks[sorted(stocks.columns)].join(load_sp500_index()["SP500"].rename(INDEX_SYMBOL))
    closes = closes.rename_axis("date").loc[_stamp(start) : _stamp(end)]
    if closes.empty:
        raise DataError(f"No trading day between {start} and {end}: the data covers 1990-01-02..2022-12-28.")
    return closes


def market_table(start: date, end: date) -> pd.DataFrame:
    """The contract's ``market`` table: date, symbol, close in long format for [start, end].

    Args:
        start: First date (inclusive).
        end: Last date (inclusive).

    Returns:
        DataFrame with columns date (``datetime.date``), symbol and close, sorted by date then symbol.
    """
    long = load_closes(start, end).rename_axis(columns="symbol").stack().rename("close").reset_index()
    long["date"] = long["date"].dt.date
    return long.sort_values(["date", "symbol"], ignore_index=True)


def sectors_table() -> pd.DataFrame:
    """The contract's ``sectors`` table: one sector per symbol, ``Index`` for ``SPX``."""
    return pd.DataFrame({"symbol": list(SECTORS), "sector": list(SECTORS.values())})


def _check_sectors(tickers: pd.Index) -> None:
    missing = sorted(set(tickers) - set(SECTORS))
    if missing:
        raise ValueError(f"Tickers without a sector in components.simulator.market_data.SECTORS: {missing}.")


def _stamp(day: date | None) -> pd.Timestamp | None:
    return None if day is None else pd.Timestamp(day)
