"""The time series of the monitor: proxy labels, realised labels and top-10 churn of the feed's record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.churn import churn_series
from monitoring.proxy import proxy_series
from monitoring.realised import realised_series

D1, D2, D3 = pd.to_datetime(["2021-04-30", "2021-05-31", "2021-06-30"])


def record(day: pd.Timestamp, accounts: list[str]) -> pd.DataFrame:
    """A record of `accounts` in the feed's order, scores falling with the rank."""
    n = len(accounts)
    return pd.DataFrame(
        {
            "as_of_date": day,
            "account_id": accounts,
            "score": np.arange(n, 0, -1.0),
            "rank": np.arange(1, n + 1),
        }
    )


def test_the_proxy_is_the_top_ks_next_day_return_over_the_platforms():
    shown = record(D1, ["a", "b", "c", "d"])
    labels = pd.DataFrame(
        {"as_of_date": D1, "account_id": list("abcde"), "fwd_return_1d": [0.04, 0.02, 0.0, -0.01, -0.05]}
    )
    row = proxy_series(shown, labels, top_k=2).iloc[0]
    assert row["top_k_excess_1d"] == pytest.approx(0.03 - 0.0)  # (4% + 2%) / 2 against the mean of all five
    assert row["ic_1d"] == pytest.approx(1.0)  # the record's order is the order of the returns
    assert (row["top_k_labelled"], row["platform_labelled"]) == (2, 5)


def test_a_date_whose_next_day_has_not_come_has_no_proxy_yet():
    shown = pd.concat([record(D1, ["a", "b"]), record(D2, ["a", "b"])])
    labels = pd.DataFrame(
        {
            "as_of_date": [D1, D1, D2, D2],
            "account_id": ["a", "b"] * 2,
            "fwd_return_1d": [0.01, 0.0, None, None],
        }
    )
    series = proxy_series(shown, labels, top_k=1)
    assert series["as_of_date"].tolist() == [D1, D2]
    assert series["top_k_excess_1d"].notna().tolist() == [True, False]


def test_without_labels_every_proxy_is_missing():
    series = proxy_series(record(D1, ["a", "b", "c"]), None, top_k=2)
    assert series["top_k_excess_1d"].isna().all() and series["ic_1d"].isna().all()


def test_realised_quality_waits_until_most_of_the_label_is_known():
    shown = pd.concat([record(D1, list("abcd")), record(D2, list("abcd"))])
    labels = pd.DataFrame(
        {
            "as_of_date": [D1] * 4 + [D2] * 4,
            "account_id": list("abcd") * 2,
            "y": [3.0, 2.0, 1.0, 0.0, 1.0, None, None, None],  # D2: a quarter known
        }
    )
    series = realised_series(shown, labels, "y").set_index("as_of_date")
    assert series.loc[D1, "realised_ic"] == pytest.approx(1.0)
    assert series.loc[D1, "realised_ndcg_at_100"] == pytest.approx(1.0)
    assert np.isnan(series.loc[D2, "realised_ic"]) and series.loc[D2, "matured_share"] == 0.25


def test_realised_quality_of_a_reversed_feed_is_negative():
    labels = pd.DataFrame({"as_of_date": D1, "account_id": list("abcd"), "y": [0.0, 1.0, 2.0, 3.0]})
    row = realised_series(record(D1, list("abcd")), labels, "y").iloc[0]
    assert row["realised_ic"] == pytest.approx(-1.0) and row["realised_ndcg_at_100"] < 1.0


def test_churn_is_the_share_of_the_top_k_new_since_the_date_before():
    shown = pd.concat([record(D1, list("abcdef")), record(D2, list("abcxyz")), record(D3, list("xyzabc"))])
    series = churn_series(shown, k=3)
    assert series["top3_churn"].tolist()[1:] == [0.0, 1.0]  # d2 keeps a, b, c; d3 replaces all three
    assert np.isnan(series["top3_churn"].iloc[0])
