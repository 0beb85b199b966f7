"""The real closes shipped with skfolio: sectors, the long market table, the window check."""

from __future__ import annotations

from datetime import date

import pytest

from components.contract.tables import INDEX_SECTOR, INDEX_SYMBOL
from components.errors import DataError
from components.simulator.market_data import SECTORS, load_closes, market_table, sectors_table


def test_every_market_symbol_has_a_sector():
    assert set(load_closes().columns) == set(sectors_table().symbol)
    assert SECTORS[INDEX_SYMBOL] == INDEX_SECTOR


def test_market_table_is_long_format_within_the_window():
    market = market_table(date(2020, 1, 2), date(2020, 1, 3))
    assert list(market.columns) == ["date", "symbol", "close"]
    assert market.groupby("date").symbol.nunique().tolist() == [21, 21]


def test_a_window_without_trading_days_is_a_data_error():
    with pytest.raises(DataError, match="No trading day"):
        load_closes(date(2019, 1, 5), date(2019, 1, 6))
