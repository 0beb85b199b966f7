"""The main sector of the Spark feature job: the sector of the most value held at the as-of date."""

from __future__ import annotations

import pandas as pd
import pytest

from components.features.market import UNKNOWN_SECTOR
from components.features.trading import holdings
from feature_repo.feature_schema import MAIN_SECTOR
from tests.feature_world import E_HOLDINGS, FEB, JAN, SECTORS, position_values

pytestmark = pytest.mark.spark

HAND_SECTORS = {"AAA": "Tech", "DDD": "Tech", "BBB": "Energy", "CCC": "Utilities", "SPX": "Index"}
HAND_CLOSES = {  # (symbol, period) -> close at the period's as-of date
    **{("AAA", p): 50.0 for p in (0, 1)},
    **{("DDD", p): 50.0 for p in (0, 1)},
    **{("CCC", p): 30.0 for p in (0, 1)},
    **{("SPX", p): 10.0 for p in (0, 1)},
    ("BBB", 0): 100.0,
    ("BBB", 1): 90.0,
}
HAND_TRADES = [  # (account, symbol, period, net quantity traded in the period)
    ("tie", "AAA", 0, 10.0),  # Tech 500
    ("tie", "BBB", 0, 5.0),  # Energy 500 at period 0: a tie, to the first name; 450 at period 1
    ("short", "AAA", 0, 10.0),  # Tech 500
    ("short", "CCC", 0, -20.0),  # Utilities 600: a short position is exposure too
    ("summed", "AAA", 0, 4.0),  # Tech 200 + 200: the sector, not its largest symbol
    ("summed", "DDD", 0, 4.0),
    ("summed", "BBB", 0, 3.0),  # Energy 300
    ("index", "SPX", 0, 100.0),  # Index 1000: the index is a sector a viewer can follow
    ("index", "AAA", 0, 10.0),
    ("sold", "AAA", 0, 10.0),
    ("sold", "AAA", 1, -10.0),  # holds nothing at period 1
]


def hand_holdings(spark) -> pd.DataFrame:
    """`holdings` of the hand-built accounts over periods 0 and 1, by (account_id, period)."""
    positions = spark.createDataFrame(
        pd.DataFrame(HAND_TRADES, columns=["account_id", "symbol", "period", "net_qty"])
    )
    closes = spark.createDataFrame(
        pd.DataFrame([(s, p, c) for (s, p), c in HAND_CLOSES.items()], columns=["symbol", "period", "close"])
    )
    sectors = spark.createDataFrame(pd.DataFrame(list(HAND_SECTORS.items()), columns=["symbol", "sector"]))
    momentum = spark.createDataFrame(pd.DataFrame({"sector": ["Tech"], "period": [0], "momentum": [0.1]}))
    held = holdings(positions, closes, sectors, momentum, last_period=1).toPandas()
    return held.set_index(["account_id", "period"]).sort_index()


def test_the_main_sector_holds_the_most_value_ties_to_the_first_name(spark):
    held = hand_holdings(spark)
    assert held.loc[("tie", 0), MAIN_SECTOR] == "Energy"  # 500 each: Energy before Tech
    assert held.loc[("tie", 0), "max_sector_share"] == 0.5  # an exact tie, not one by rounding
    assert held.loc[("tie", 1), MAIN_SECTOR] == "Tech"  # carried over, valued at period 1's close
    assert held.loc[("short", 0), MAIN_SECTOR] == "Utilities"
    assert held.loc[("summed", 0), MAIN_SECTOR] == "Tech"
    assert held.loc[("index", 0), MAIN_SECTOR] == "Index"
    assert held.loc[("sold", 0), MAIN_SECTOR] == "Tech"
    assert ("sold", 1) not in held.index  # nothing held: no holdings row, a null after the grid's join


def expected_main_sector(holdings_at: dict[str, float], as_of) -> str:
    """The sector of the most value held, by the reference prices (a symbol without a row: its own)."""
    by_sector: dict[str, float] = {}
    for symbol, value in position_values(holdings_at, as_of).items():
        sector = SECTORS.get(symbol, f"{UNKNOWN_SECTOR}{symbol}")
        by_sector[sector] = by_sector.get(sector, 0.0) + value
    return min(by_sector, key=lambda sector: (-by_sector[sector], sector))


def test_the_feature_table_carries_the_main_sector_as_a_string(built):
    _, features, _ = built
    assert features.loc[("E", JAN), MAIN_SECTOR] == expected_main_sector(E_HOLDINGS, JAN)
    a_feb = {"AAA": 6.0, "BBB": 25.0, "SPX": 2.0}
    assert features.loc[("A", FEB), MAIN_SECTOR] == expected_main_sector(a_feb, FEB)
    assert pd.isna(features.loc[("C", FEB), MAIN_SECTOR])  # holds nothing
    assert features[MAIN_SECTOR].dropna().map(type).eq(str).all()
