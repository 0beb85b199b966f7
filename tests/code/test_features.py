"""The Spark feature job on a tiny hand-made world: returns, features, labels, point in time."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from components.contract import TABLES
from components.features import AsOfCalendar, build_features, daily_returns, day_frame, index_closes
from components.layout import DataLayout
from components.spark import spark_session
from feature_repo.feature_schema import FEATURES, LABELS

pytestmark = pytest.mark.spark

MARKET_DAYS = [d.date() for d in pd.bdate_range("2020-12-01", "2022-04-14")]  # Mon-Fri, no holidays
WORLD_DAYS = [d for d in MARKET_DAYS if d >= date(2021, 1, 4)]  # 15.5 months: windows drop old months
ASOF = sorted({(d.year, d.month): d for d in WORLD_DAYS}.values())  # the last world day of each month
JAN, FEB, MAR = date(2021, 1, 29), date(2021, 2, 26), date(2021, 3, 31)
LAST = date(2022, 4, 14)  # the data ends mid-month: the last as-of date
MISSING_DAY = date(2021, 2, 10)  # A has no snapshot that day
DEPOSIT = (date(2021, 1, 20), 500.0)
WITHDRAWAL = (date(2021, 3, 10), -300.0)
B_CLOSED = date(2021, 2, 15)
D_CLOSED = date(2021, 2, 5)  # five returns after JAN: too few for a label
C_OPENED, C_FIRST_SNAPSHOT = date(2021, 1, 27), date(2021, 2, 10)
MONTH_DRIFT = {1: 0.004, 2: -0.006, 3: 0.002}  # A rises in January, falls in February


def planted_returns(days: list[date], seed: int) -> np.ndarray:
    """Daily returns of an account, drifting by month so that drawdowns span months."""
    noise = np.random.default_rng(seed).normal(0.0, 0.01, len(days))
    return np.array([MONTH_DRIFT.get(d.month, 0.0005) for d in days]) + noise


def equity_path(
    returns: np.ndarray, flows: np.ndarray, start: float = 1000.0
) -> tuple[np.ndarray, np.ndarray]:
    """Equity and net deposits when flows arrive at the start of a day and the day then returns r."""
    equity, net = np.empty(len(returns)), np.cumsum(flows) + start
    equity[0] = start
    for t in range(1, len(returns)):
        equity[t] = (equity[t - 1] + flows[t]) * (1 + returns[t])
    return equity, net


def closes() -> dict[str, dict[date, float]]:
    spx = 3000.0 * np.cumprod(1 + 0.008 * np.sin(np.arange(len(MARKET_DAYS)) * 1.3))
    return {
        "AAA": {d: 100.0 + 0.5 * i for i, d in enumerate(MARKET_DAYS)},
        "BBB": dict.fromkeys(MARKET_DAYS, 50.0),
        "SPX": dict(zip(MARKET_DAYS, spx, strict=True)),
    }


A_TRADES = [  # (ts, symbol, side, qty)
    (datetime(2021, 1, 5, 10), "AAA", "buy", 10.0),
    (datetime(2021, 1, 6, 11), "BBB", "buy", 20.0),
    (datetime(2021, 1, 29, 21), "BBB", "buy", 5.0),  # late on the as-of day: counts at JAN
    (datetime(2021, 1, 30, 10), "AAA", "sell", 4.0),  # a Saturday after JAN: belongs to FEB
    (datetime(2021, 2, 16, 10), "SPX", "buy", 2.0),
    (datetime(2021, 3, 3, 10), "AAA", "sell", 6.0),  # AAA is flat from here on
]
B_TRADES = [(datetime(2021, 1, 4, 10), "AAA", "buy", 1.0), (datetime(2021, 2, 15, 16), "AAA", "sell", 1.0)]


def account_snapshots(account: str, days: list[date], returns: np.ndarray, flows: np.ndarray) -> dict:
    equity, net = equity_path(returns, flows)
    return {
        "account_id": [account] * len(days),
        "date": days,
        "equity": list(equity),
        "net_deposit": list(net),
    }


def world_snapshots(future_factor: float) -> pd.DataFrame:
    """Snapshots of A (deposit, withdrawal, a missing day), B and D (close) and C (starts late).

    `future_factor` multiplies A's equity after FEB: a change only the future may see.
    """
    flows = np.array([dict([DEPOSIT, WITHDRAWAL]).get(d, 0.0) for d in WORLD_DAYS])
    a = pd.DataFrame(account_snapshots("A", WORLD_DAYS, planted_returns(WORLD_DAYS, 1), flows))
    a.loc[a["date"] > FEB, "equity"] *= future_factor
    a = a[a["date"] != MISSING_DAY]
    b_days = [d for d in WORLD_DAYS if d <= B_CLOSED]
    b = pd.DataFrame(account_snapshots("B", b_days, planted_returns(b_days, 2), np.zeros(len(b_days))))
    c_days = [d for d in WORLD_DAYS if d >= C_FIRST_SNAPSHOT]
    c = pd.DataFrame(account_snapshots("C", c_days, planted_returns(c_days, 3), np.zeros(len(c_days))))
    d_days = [d for d in WORLD_DAYS if d <= D_CLOSED]
    d = pd.DataFrame(account_snapshots("D", d_days, planted_returns(d_days, 4), np.zeros(len(d_days))))
    return pd.concat([a, b, c, d], ignore_index=True).assign(cash=0.0)


def world_trades(extra: list | None = None) -> pd.DataFrame:
    rows = [("A", *t) for t in A_TRADES + (extra or [])] + [("B", *t) for t in B_TRADES]
    frame = pd.DataFrame(rows, columns=["account_id", "ts", "symbol", "side", "qty"])
    prices = closes()
    frame["price"] = [
        prices[s].get(ts.date(), 100.0) for s, ts in zip(frame["symbol"], frame["ts"], strict=True)
    ]
    return frame.assign(trade_id=[f"t{i}" for i in range(len(frame))], fee=0.0)


def write_table(root: Path, name: str, frame: pd.DataFrame) -> None:
    schema = pa.schema(TABLES[name])
    (root / "clean" / name).mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    pq.write_table(table, root / "clean" / name / "part-0.parquet")


def write_table_without(root: Path, name: str, column: str) -> None:
    path = root / "clean" / name / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop_columns([column]), path)


def write_world(root: Path, future_factor: float = 1.0, future_trades: list | None = None) -> DataLayout:
    accounts = pd.DataFrame(
        {
            "account_id": ["A", "B", "C", "D"],
            "opened_at": [date(2021, 1, 4), date(2021, 1, 4), C_OPENED, date(2021, 1, 4)],
            "closed_at": [None, B_CLOSED, None, D_CLOSED],
            "country": ["DE", "FR", "IT", "ES"],
        }
    )
    market = pd.DataFrame(
        [(d, s, c) for s, series in closes().items() for d, c in series.items()],
        columns=["date", "symbol", "close"],
    )
    sectors = pd.DataFrame({"symbol": ["AAA", "BBB", "SPX"], "sector": ["Tech", "Energy", "Index"]})
    for name, frame in [
        ("accounts", accounts),
        ("snapshots", world_snapshots(future_factor)),
        ("trades", world_trades(future_trades)),
        ("market", market),
        ("sectors", sectors),
    ]:
        write_table(root, name, frame)
    return DataLayout(root)


# --- reference computations, independent of the job -------------------------------------------------


def expected_returns(account: str) -> pd.Series:
    """Flow-adjusted returns by date, recomputed with pandas from the written snapshots."""
    snaps = world_snapshots(1.0).query("account_id == @account").sort_values("date")
    base = snaps["equity"].shift() + snaps["net_deposit"].diff()
    return (snaps["equity"] / base - 1).set_axis(snaps["date"]).dropna()


def expected_index_returns(account: str) -> pd.Series:
    """The S&P 500's return over the same days as each of the account's returns (gaps bridged alike)."""
    dates = world_snapshots(1.0).query("account_id == @account")["date"].sort_values()
    spx = pd.Series(closes()["SPX"])
    return pd.Series(spx[dates].to_numpy()[1:] / spx[dates].to_numpy()[:-1] - 1, index=dates.to_numpy()[1:])


def reference_regression(r: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """OLS of r on m: beta, daily alpha and the t-statistic of alpha."""
    beta, alpha = np.polyfit(m, r, 1)
    residual = r - alpha - beta * m
    s2 = residual @ residual / (len(r) - 2)
    se = math.sqrt(s2 * (1 / len(r) + m.mean() ** 2 / ((m - m.mean()) @ (m - m.mean()))))
    return {"beta": beta, "alpha": alpha, "t": alpha / se}


def window_start(as_of: date) -> date | None:
    """The as-of date twelve months before `as_of`: the trailing window is (start, as_of]."""
    return next((d for d in ASOF if (d.year, d.month) == (as_of.year - 1, as_of.month)), None)


def trailing(returns: pd.Series, as_of: date) -> np.ndarray:
    start = window_start(as_of) or date.min
    return returns[(returns.index > start) & (returns.index <= as_of)].to_numpy()


def reference_stats(r: np.ndarray) -> dict[str, float]:
    wealth = np.concatenate([[1.0], np.cumprod(1 + r)])
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    return {
        "sharpe": r.mean() / r.std(ddof=1) * math.sqrt(252),
        "sortino": r.mean() / downside * math.sqrt(252),
        "volatility": r.std(ddof=1) * math.sqrt(252),
        "max_drawdown": float(np.max(1 - wealth / np.maximum.accumulate(wealth))),
        "return": float(np.prod(1 + r) - 1),
    }


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    with spark_session("skillrank-test-features", master="local[2]", shuffle_partitions=2) as session:
        yield session


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    layout = write_world(tmp_path_factory.mktemp("world"))
    counts = build_features(layout, spark)
    return counts, read_output(layout.features), read_output(layout.labels)


def read_output(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    frame["as_of"] = frame["as_of_date"].dt.date
    return frame.set_index(["account_id", "as_of"]).sort_index()


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
    assert len(got) == len(WORLD_DAYS) - 2  # no return on the first day, one for the two around the gap


def test_tables_have_the_schema_feast_and_training_read(built):
    _, features, labels = built
    assert list(features.columns) == ["as_of_date", *FEATURES]
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
    }
    assert len(ASOF) == 16 and ASOF[-1] == LAST
    assert counts == {"rows": 16 + 1 + 15 + 1, "accounts": 4, "as_of_dates": 16}


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
    assert labels.loc[immature, list(LABELS)].isna().all().all()
    assert labels.loc[("A", date(2022, 2, 28)), list(LABELS)].notna().all()


def test_labels_are_null_with_fewer_than_ten_returns_in_the_window(built):
    _, _, labels = built
    assert labels.loc[("D", JAN), list(LABELS)].isna().all()  # closed five trading days after JAN


def test_a_missing_required_column_is_named(spark, tmp_path):
    layout = write_world(tmp_path)
    write_table_without(layout.root, "snapshots", "net_deposit")
    with pytest.raises(ValueError, match="net_deposit"):
        build_features(layout, spark)


def test_a_missing_clean_table_says_to_run_ingest(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match="ingest"):
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
    assert shocked_labels.loc[("A", JAN)].equals(labels.loc[("A", JAN)])
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
