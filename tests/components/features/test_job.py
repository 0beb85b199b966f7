"""The Spark feature job on a tiny hand-made world: returns, features, labels, point in time."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from components.config.layout import DataLayout
from components.errors import DataError
from components.features import build_features
from components.features.calendar import AsOfCalendar, day_frame
from components.features.returns import daily_returns, index_closes
from components.features.spark import spark_session
from components.labels import LABELS
from feature_repo.feature_schema import FEATURES, MAIN_SECTOR
from tests.feature_world import (
    AFTER_MAR,
    ASOF,
    C_FIRST_SNAPSHOT,
    C_OPENED,
    DEPOSIT,
    FEB,
    JAN,
    LAST,
    MAR,
    MISSING_DAY,
    WITHDRAWAL,
    WORLD_DAYS,
    closes,
    expected_index_returns,
    expected_returns,
    planted_returns,
    read_output,
    reference_regression,
    reference_stats,
    trailing,
    write_table_without,
    write_world,
)

pytestmark = pytest.mark.spark

THIRTY_DAY_LABELS = ["fwd_sharpe_30d", "fwd_return_30d"]

# --- tests -------------------------------------------------------------------------------------------


def test_flow_adjusted_returns_bridge_gaps_and_ignore_deposits(spark, tmp_path):
    layout = write_world(tmp_path)
    snapshots = spark.read.parquet(str(layout.clean("snapshots")))
    index = index_closes(spark.read.parquet(str(layout.clean("market"))))
    days = day_frame(spark, AsOfCalendar(ASOF))
    rows = daily_returns(snapshots, days, index).where("account_id = 'A' and r is not null").toPandas()
    got = rows.set_index("date")["r"].sort_index()
    planted = pd.Series(planted_returns(WORLD_DAYS, 1), index=WORLD_DAYS)
    assert MISSING_DAY not in got.index
    bridged = (1 + planted[MISSING_DAY]) * (1 + planted[date(2021, 2, 11)]) - 1
    assert got[date(2021, 2, 11)] == pytest.approx(bridged, rel=1e-9)
    assert got[DEPOSIT[0]] == pytest.approx(planted[DEPOSIT[0]], rel=1e-9)
    assert got[WITHDRAWAL[0]] == pytest.approx(planted[WITHDRAWAL[0]], rel=1e-9)
    assert AFTER_MAR not in got.index
    assert len(got) == len(WORLD_DAYS) - 3  # none on the first day, one for each gap and the day before


def test_tables_have_the_schema_feast_and_training_read(built):
    _, features, labels = built
    assert list(features.columns) == ["as_of_date", *FEATURES, MAIN_SECTOR]  # the retrieval's sector
    assert list(labels.columns) == ["as_of_date", *LABELS]
    assert str(features["as_of_date"].dtype) == "datetime64[us, UTC]"
    assert all(str(features[name].dtype) == "float64" for name in FEATURES)
    assert (features["as_of_date"].dt.time == datetime.min.time()).all()


def test_rows_exist_for_open_accounts_with_a_snapshot_by_the_as_of_date(built):
    counts, features, _ = built
    assert set(features.index) == {
        *[("A", d) for d in ASOF],
        ("B", JAN),  # closed on Feb 15: no row after
        *[("C", d) for d in ASOF if d >= FEB],  # opened Jan 27 but first snapshot Feb 10: no JAN row
        ("D", JAN),
        *[("E", d) for d in ASOF],
    }
    assert len(ASOF) == 16 and ASOF[-1] == LAST
    assert counts == {"rows": 16 + 1 + 15 + 1 + 16, "accounts": 5, "as_of_dates": 16}


def test_return_features_match_a_reference_computation(built):
    _, features, _ = built
    returns = expected_returns("A")
    for as_of in (JAN, FEB, MAR, date(2021, 12, 31), date(2022, 1, 31), date(2022, 2, 28), LAST):
        want = reference_stats(trailing(returns, as_of))
        since_inception = returns[returns.index <= as_of].to_numpy()
        row = features.loc[("A", as_of)]
        assert row["sharpe_12m"] == pytest.approx(want["sharpe"], rel=1e-9)
        assert row["sortino_12m"] == pytest.approx(want["sortino"], rel=1e-9)
        assert row["volatility_12m"] == pytest.approx(want["volatility"], rel=1e-9)
        assert row["max_drawdown_12m"] == pytest.approx(want["max_drawdown"], rel=1e-9)
        assert row["return_12m"] == pytest.approx(want["return"], rel=1e-9)
        assert row["roi_since_inception"] == pytest.approx(np.prod(1 + since_inception) - 1, rel=1e-9)
        assert row["track_record_days"] == len(since_inception)


def test_moments_and_market_regression_match_a_reference_computation(built):
    _, features, _ = built
    returns, index = expected_returns("A"), expected_index_returns("A")
    for as_of in (FEB, date(2021, 12, 31), LAST):
        r, m = trailing(returns, as_of), trailing(index, as_of)
        want = reference_regression(r, m)
        row = features.loc[("A", as_of)]
        assert row["returns_12m"] == len(r)
        assert row["skew_12m"] == pytest.approx(stats.skew(r), rel=1e-6)
        assert row["kurtosis_12m"] == pytest.approx(stats.kurtosis(r, fisher=False), rel=1e-9)
        assert row["beta_12m"] == pytest.approx(want["beta"], rel=1e-6)
        assert row["alpha_12m"] == pytest.approx(want["alpha"] * 252, rel=1e-6)
        assert row["alpha_tstat_12m"] == pytest.approx(want["t"], rel=1e-6)


def test_the_trailing_window_forgets_months_older_than_twelve(built):
    _, features, _ = built
    returns = expected_returns("A")
    late = features.loc[("A", date(2022, 2, 28))]
    assert (
        late["max_drawdown_12m"]
        < reference_stats(returns[returns.index <= date(2022, 2, 28)].to_numpy())["max_drawdown"]
    )  # the February 2021 fall is out of the window
    assert late["track_record_days"] > len(trailing(returns, date(2022, 2, 28)))


def test_max_drawdown_combines_a_peak_and_a_trough_of_different_months(built):
    _, features, _ = built
    r = expected_returns("A")
    wealth = np.cumprod(1 + r[r.index <= FEB])
    trough = (wealth / wealth.cummax()).idxmin()
    peak = wealth[wealth.index < trough].idxmax()
    assert peak.month == 1 and trough.month == 2  # the planted path peaks in January, bottoms in February
    want = 1 - wealth[trough] / wealth[peak]
    assert features.loc[("A", FEB), "max_drawdown_12m"] == pytest.approx(want, rel=1e-9)


def test_holdings_and_activity_at_the_as_of_date(built):
    _, features, _ = built
    aaa, spx = closes()["AAA"], closes()["SPX"]
    jan_values = [10 * aaa[JAN], 25 * 50.0]
    feb_values = [6 * aaa[FEB], 25 * 50.0, 2 * spx[FEB]]
    a = features.loc["A"]
    assert a.loc[JAN, "hhi"] == pytest.approx(sum(v * v for v in jan_values) / sum(jan_values) ** 2)
    assert a.loc[FEB, "hhi"] == pytest.approx(sum(v * v for v in feb_values) / sum(feb_values) ** 2)
    assert list(a["n_tickers"]) == [2, 3] + [2] * 14
    # The Saturday trade after JAN counts from FEB on; a year later the window drops each trade again.
    assert list(a["trade_count_12m"]) == [3, 5] + [6] * 10 + [3, 1, 0, 0]
    assert features.loc[("B", JAN), "hhi"] == 1.0
    c = features.loc[("C", FEB)]
    assert (c["n_tickers"], c["trade_count_12m"], c["tenure_days"]) == (0, 0, (FEB - C_OPENED).days)
    assert np.isnan(c["hhi"])
    assert c["track_record_days"] == len([d for d in WORLD_DAYS if C_FIRST_SNAPSHOT < d <= FEB])


def test_market_volatility_uses_the_last_21_index_returns(built):
    _, features, _ = built
    spx = pd.Series(closes()["SPX"])
    r = (spx / spx.shift() - 1)[spx.index <= FEB].tail(21)
    assert features.loc[("A", FEB), "market_vol_21d"] == pytest.approx(r.std() * math.sqrt(252), rel=1e-9)
    assert features.loc[("C", FEB), "market_vol_21d"] == features.loc[("A", FEB), "market_vol_21d"]


def test_labels_use_the_30_days_strictly_after_the_as_of_date(built):
    _, _, labels = built
    returns = expected_returns("A")
    for as_of in (JAN, FEB):
        window = returns[(returns.index > as_of) & (returns.index <= as_of + timedelta(days=30))].to_numpy()
        want = reference_stats(window)
        assert labels.loc[("A", as_of), "fwd_sharpe_30d"] == pytest.approx(want["sharpe"], rel=1e-9)
        assert labels.loc[("A", as_of), "fwd_return_30d"] == pytest.approx(want["return"], rel=1e-9)
    b = expected_returns("B")
    assert labels.loc[("B", JAN), "fwd_return_30d"] == pytest.approx(np.prod(1 + b[b.index > JAN]) - 1)


def test_labels_are_null_until_their_window_is_over(built):
    _, _, labels = built
    immature = [("A", date(2022, 3, 31)), ("A", LAST), ("C", LAST)]  # T + 30 days is after LAST
    assert labels.loc[immature, THIRTY_DAY_LABELS].isna().all().all()
    # the 12-month label of February 2022 is not over by April (see tests/components/labels/test_forward.py)
    short_labels = [name for name in LABELS if name != "fwd_alpha_tstat_12m"]
    assert labels.loc[("A", date(2022, 2, 28)), short_labels].notna().all()
    assert np.isnan(labels.loc[("A", date(2022, 2, 28)), "fwd_alpha_tstat_12m"])
    assert labels.loc[("A", date(2022, 3, 31)), "fwd_return_1d"] == pytest.approx(
        expected_returns("A")[date(2022, 4, 1)], rel=1e-9
    )  # the next day is in the data
    assert labels.loc[[("A", LAST), ("C", LAST)], "fwd_return_1d"].isna().all()


def test_labels_are_null_with_fewer_than_ten_returns_in_the_window(built):
    _, _, labels = built
    assert labels.loc[("D", JAN), THIRTY_DAY_LABELS].isna().all()  # closed five trading days after JAN


def test_the_one_day_label_is_the_return_of_the_first_trading_day_after_the_as_of_date(built):
    _, _, labels = built
    returns = expected_returns("A")
    for as_of in (JAN, FEB, date(2021, 12, 31)):
        next_day = min(d for d in WORLD_DAYS if d > as_of)
        assert next_day.month != as_of.month and as_of in returns.index  # measured from T's close
        assert labels.loc[("A", as_of), "fwd_return_1d"] == pytest.approx(returns[next_day], rel=1e-9)
    # A has no snapshot on the first trading day after MAR: the next return spans two days, not one.
    assert AFTER_MAR not in returns.index and np.isnan(labels.loc[("A", MAR), "fwd_return_1d"])
    # B has none on JAN itself: its return of the next day is measured from a close before T.
    assert JAN not in expected_returns("B").index and np.isnan(labels.loc[("B", JAN), "fwd_return_1d"])


def test_a_missing_required_column_is_named(spark, tmp_path):
    layout = write_world(tmp_path)
    write_table_without(layout.root, "snapshots", "net_deposit")
    with pytest.raises(DataError, match="net_deposit"):
        build_features(layout, spark)


def test_a_missing_clean_table_says_to_run_ingest(spark, tmp_path):
    with pytest.raises(DataError, match="ingest"):
        build_features(DataLayout(tmp_path), spark)


def test_a_future_change_moves_labels_but_not_features(spark, built, tmp_path):
    _, features, labels = built
    future_trade = (datetime(2021, 3, 2, 10), "BBB", "buy", 1000.0)
    layout = write_world(tmp_path, future_factor=10.0, future_trades=[future_trade])
    build_features(layout, spark)
    shocked, shocked_labels = read_output(layout.features), read_output(layout.labels)
    past = [key for key in features.index if key[1] <= FEB]
    pd.testing.assert_frame_equal(shocked.loc[past], features.loc[past])
    assert (
        shocked_labels.loc[("A", FEB), "fwd_return_30d"]
        > 5 * (1 + labels.loc[("A", FEB), "fwd_return_30d"]) - 1
    )
    short = [*THIRTY_DAY_LABELS, "fwd_return_1d"]  # January's short windows end before the shock
    assert shocked_labels.loc[("A", JAN), short].equals(labels.loc[("A", JAN), short])
    # ... its 12-month window reaches it: the label sees the future, the features above do not
    assert (
        shocked_labels.loc[("A", JAN), "fwd_alpha_tstat_12m"] != labels.loc[("A", JAN), "fwd_alpha_tstat_12m"]
    )
    assert shocked.loc[("A", MAR), "roi_since_inception"] > 5


def test_the_session_runs_ansi_sql_in_utc(spark):
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    with pytest.raises(Exception, match="DIVIDE_BY_ZERO"):
        spark.sql("select 1 / 0").collect()


def test_a_nested_session_leaves_the_running_one_alone(spark):
    with spark_session("nested") as inner:
        assert inner is spark
    assert spark.range(3).count() == 3
