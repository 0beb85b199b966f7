"""Derived forward labels: chained windows, beta-adjusted excess, closed accounts keep their outcome."""

import numpy as np
import pandas as pd
import pytest

from components.labels.excess import MONTHS, add_excess_labels

DATES = pd.to_datetime(["2020-01-31", "2020-02-28", "2020-03-31", "2020-04-30"])
SPX = pd.Series([100.0, 110.0, 121.0, 133.1], index=DATES)


def frame(account="a", returns=(0.1, 0.1, 0.1, np.nan), beta=1.0, vol=0.2):
    return pd.DataFrame(
        {
            "account_id": account,
            "as_of_date": DATES,
            "fwd_return_30d": list(returns),
            "beta_12m": beta,
            "volatility_12m": vol,
        }
    )


def test_market_tracker_has_no_excess():
    labels = add_excess_labels(frame(), SPX)
    assert labels.loc[0, "fwd_excess_90d"] == pytest.approx(0.0, abs=1e-12)


def test_excess_is_return_minus_beta_times_market():
    labels = add_excess_labels(frame(returns=(0.2, 0.2, 0.2, np.nan), beta=0.5), SPX)
    expected = 1.2**3 - 1 - 0.5 * (133.1 / 100 - 1)
    assert labels.loc[0, "fwd_excess_90d"] == pytest.approx(expected)
    assert labels.loc[0, "fwd_excess_ir_90d"] == pytest.approx(expected / (0.2 * np.sqrt(3 / 12)))


def test_a_closed_account_keeps_its_last_outcome():
    labels = add_excess_labels(frame(returns=(-0.5, np.nan, np.nan, np.nan)), SPX)
    assert labels.loc[0, "fwd_excess_90d"] == pytest.approx(-0.5 - (110 / 100 - 1))
    assert labels.loc[1:, "fwd_excess_90d"].isna().all()


def test_the_chain_is_the_table_s_three_windows():
    assert MONTHS == 3
