"""Market context of the Spark feature job: the S&P 500's trend and drawdown, and sector momentum."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.feature_world import ASOF, E_HOLDINGS, FEB, JAN, MARKET_DAYS, SECTORS, closes, position_values

pytestmark = pytest.mark.spark

JAN_2022 = date(2022, 1, 31)


def close_at(symbol: str, day: date) -> float:
    """The last close on or before `day`."""
    return closes()[symbol][max(d for d in MARKET_DAYS if d <= day)]


def test_spx_trend_and_drawdown_at_the_as_of_date(built):
    _, features, _ = built
    spx = pd.Series(closes()["SPX"])
    for as_of in (date(2021, 12, 31), JAN_2022, date(2022, 4, 14)):
        year_before = spx[max(d for d in MARKET_DAYS if (d.year, d.month) == (as_of.year - 1, as_of.month))]
        row = features.loc[("E", as_of)]
        assert row["spx_trend_12m"] == pytest.approx(spx[as_of] / year_before - 1)
        assert row["spx_drawdown"] == pytest.approx(1 - spx[as_of] / spx[spx.index <= as_of].max())
    assert np.isnan(features.loc[("E", FEB), "spx_trend_12m"])  # the market data starts in December 2020
    assert features.loc[("A", JAN_2022), "spx_drawdown"] == features.loc[("E", JAN_2022), "spx_drawdown"]


def test_sector_momentum_weights_the_held_sectors_12_1_momentum_by_exposure(built):
    _, features, _ = built
    month_back, year_back = date(2021, 12, 31), JAN
    momentum = {s: close_at(s, month_back) / close_at(s, year_back) - 1 for s in E_HOLDINGS}
    members: dict[str, list[str]] = {}
    for symbol in closes():
        members.setdefault(SECTORS.get(symbol, symbol), []).append(symbol)
    sector_of = {s: SECTORS.get(s, s) for s in E_HOLDINGS}
    sector_momentum = {
        sector: np.mean([close_at(s, month_back) / close_at(s, year_back) - 1 for s in symbols])
        for sector, symbols in members.items()
    }
    assert sector_momentum["Tech"] == pytest.approx((momentum["AAA"] + momentum["CCC"]) / 2)
    values = position_values(E_HOLDINGS, JAN_2022)
    want = sum(values[s] * sector_momentum[sector_of[s]] for s in values) / sum(values.values())
    assert features.loc[("E", JAN_2022), "sector_momentum"] == pytest.approx(want)
    assert np.isnan(features.loc[("E", ASOF[10]), "sector_momentum"])  # no close 12 months back yet
