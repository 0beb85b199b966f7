"""A tiny hand-made world for the Spark feature job, and reference computations independent of it.

Five accounts over 15.5 months of Monday-to-Friday market days (no holidays) on four stocks and the
index, with closed-form prices:

- A: a deposit, a withdrawal, two missing snapshot days (one the first trading day after an as-of
  date), six trades (one on a Saturday, one late on an as-of day);
- B and D close early (D five trading days after the first as-of date: too few for a 30-day label);
  B has no snapshot on the first as-of date;
- C opens late and has its first snapshot two weeks after opening;
- E holds five symbols of three sectors plus the index; one of its trades is made four trading days
  before an as-of date, so its 10-day window is still open there.

A second, random world (`evidence_world`) feeds the evidence regressions and the 12-month forward
label directly, as daily rows: a steady account with an edge over the platform universe and one
that closes early.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from components.config.layout import DataLayout
from components.contract.tables import INDEX_SYMBOL, TABLES
from components.features.evidence import evidence_sums, universe_levels

MARKET_DAYS = [d.date() for d in pd.bdate_range("2020-12-01", "2022-04-14")]  # Mon-Fri, no holidays
WORLD_DAYS = [d for d in MARKET_DAYS if d >= date(2021, 1, 4)]  # 15.5 months: windows drop old months
ASOF = sorted({(d.year, d.month): d for d in WORLD_DAYS}.values())  # the last world day of each month
JAN, FEB, MAR = date(2021, 1, 29), date(2021, 2, 26), date(2021, 3, 31)
LAST = date(2022, 4, 14)  # the data ends mid-month: the last as-of date
MISSING_DAY = date(2021, 2, 10)  # A has no snapshot that day
AFTER_MAR = date(2021, 4, 1)  # nor on the first trading day after MAR
DEPOSIT = (date(2021, 1, 20), 500.0)
WITHDRAWAL = (date(2021, 3, 10), -300.0)
B_CLOSED = date(2021, 2, 15)
D_CLOSED = date(2021, 2, 5)  # five returns after JAN: too few for a label
C_OPENED, C_FIRST_SNAPSHOT = date(2021, 1, 27), date(2021, 2, 10)
MONTH_DRIFT = {1: 0.004, 2: -0.006, 3: 0.002}  # A rises in January, falls in February
SECTORS = {"AAA": "Tech", "BBB": "Energy", "CCC": "Tech", "SPX": "Index"}  # DDD has no sector row

A_TRADES = [  # (ts, symbol, side, qty)
    (datetime(2021, 1, 5, 10), "AAA", "buy", 10.0),
    (datetime(2021, 1, 6, 11), "BBB", "buy", 20.0),
    (datetime(2021, 1, 29, 21), "BBB", "buy", 5.0),  # late on the as-of day: counts at JAN
    (datetime(2021, 1, 30, 10), "AAA", "sell", 4.0),  # a Saturday after JAN: belongs to FEB
    (datetime(2021, 2, 16, 10), "SPX", "buy", 2.0),
    (datetime(2021, 3, 3, 10), "AAA", "sell", 6.0),  # AAA is flat from here on
]
B_TRADES = [(datetime(2021, 1, 4, 10), "AAA", "buy", 1.0), (datetime(2021, 2, 15, 16), "AAA", "sell", 1.0)]
E_OPEN_AT_JAN = (datetime(2021, 1, 25, 10), "DDD", "buy", 10.0)  # its window closes on Feb 8
E_TRADES = [
    (datetime(2021, 1, 4, 10), "AAA", "buy", 10.0),
    (datetime(2021, 1, 4, 10), "BBB", "buy", 20.0),
    (datetime(2021, 1, 4, 11), "CCC", "buy", 30.0),
    (datetime(2021, 1, 4, 11), "DDD", "buy", 40.0),
    (datetime(2021, 1, 5, 10), "SPX", "buy", 1.0),
    (datetime(2021, 1, 11, 10), "CCC", "sell", 10.0),
    (datetime(2021, 1, 12, 10), "AAA", "buy", 5.0),
    E_OPEN_AT_JAN,
]
E_HOLDINGS = {"AAA": 15.0, "BBB": 20.0, "CCC": 20.0, "DDD": 50.0, "SPX": 1.0}  # from Jan 25 on


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
    i = np.arange(len(MARKET_DAYS))
    series = {
        "AAA": 100.0 + 0.5 * i,
        "BBB": np.full(len(i), 50.0),
        "CCC": 80.0 - 0.1 * i,
        "DDD": 20.0 + 2.0 * np.sin(i / 5.0),
        "SPX": 3000.0 * np.cumprod(1 + 0.008 * np.sin(i * 1.3)),
    }
    return {symbol: dict(zip(MARKET_DAYS, values, strict=True)) for symbol, values in series.items()}


def account_snapshots(account: str, days: list[date], returns: np.ndarray, flows: np.ndarray) -> dict:
    equity, net = equity_path(returns, flows)
    return {
        "account_id": [account] * len(days),
        "date": days,
        "equity": list(equity),
        "net_deposit": list(net),
    }


def plain_account(account: str, days: list[date], seed: int) -> pd.DataFrame:
    return pd.DataFrame(account_snapshots(account, days, planted_returns(days, seed), np.zeros(len(days))))


def world_snapshots(future_factor: float) -> pd.DataFrame:
    """Snapshots of A (deposit, withdrawal, missing days), B and D (close), C (starts late) and E.

    `future_factor` multiplies A's equity after FEB: a change only the future may see.
    """
    flows = np.array([dict([DEPOSIT, WITHDRAWAL]).get(d, 0.0) for d in WORLD_DAYS])
    a = pd.DataFrame(account_snapshots("A", WORLD_DAYS, planted_returns(WORLD_DAYS, 1), flows))
    a.loc[a["date"] > FEB, "equity"] *= future_factor
    a = a[~a["date"].isin([MISSING_DAY, AFTER_MAR])]
    b = plain_account("B", [d for d in WORLD_DAYS if d <= B_CLOSED and d != JAN], 2)
    c = plain_account("C", [d for d in WORLD_DAYS if d >= C_FIRST_SNAPSHOT], 3)
    d = plain_account("D", [d for d in WORLD_DAYS if d <= D_CLOSED], 4)
    e = plain_account("E", WORLD_DAYS, 5)
    return pd.concat([a, b, c, d, e], ignore_index=True).assign(cash=0.0)


def world_trades(extra: list | None = None) -> pd.DataFrame:
    rows = [("A", *t) for t in A_TRADES + (extra or [])]
    rows += [("B", *t) for t in B_TRADES] + [("E", *t) for t in E_TRADES]
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
            "account_id": ["A", "B", "C", "D", "E"],
            "opened_at": [date(2021, 1, 4), date(2021, 1, 4), C_OPENED, date(2021, 1, 4), date(2021, 1, 4)],
            "closed_at": [None, B_CLOSED, None, D_CLOSED, None],
            "country": ["DE", "FR", "IT", "ES", "PT"],
        }
    )
    market = pd.DataFrame(
        [(d, s, c) for s, series in closes().items() for d, c in series.items()],
        columns=["date", "symbol", "close"],
    )
    sectors = pd.DataFrame({"symbol": list(SECTORS), "sector": list(SECTORS.values())})
    for name, frame in [
        ("accounts", accounts),
        ("snapshots", world_snapshots(future_factor)),
        ("trades", world_trades(future_trades)),
        ("market", market),
        ("sectors", sectors),
    ]:
        write_table(root, name, frame)
    return DataLayout(root)


def read_output(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    frame["as_of"] = frame["as_of_date"].dt.date
    return frame.set_index(["account_id", "as_of"]).sort_index()


# --- reference computations, independent of the job -------------------------------------------------


def account_snapshot_rows(account: str) -> pd.DataFrame:
    return world_snapshots(1.0).query("account_id == @account").sort_values("date")


def expected_returns(account: str) -> pd.Series:
    """Flow-adjusted returns by date, recomputed with pandas from the written snapshots."""
    snaps = account_snapshot_rows(account)
    base = snaps["equity"].shift() + snaps["net_deposit"].diff()
    return (snaps["equity"] / base - 1).set_axis(snaps["date"]).dropna()


def expected_index_returns(account: str) -> pd.Series:
    """The S&P 500's return over the same days as each of the account's returns (gaps bridged alike)."""
    dates = account_snapshot_rows(account)["date"]
    spx = pd.Series(closes()["SPX"])
    return pd.Series(spx[dates].to_numpy()[1:] / spx[dates].to_numpy()[:-1] - 1, index=dates.to_numpy()[1:])


def reference_regression(r: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """OLS of r on m: beta, daily alpha and the t-statistic of alpha."""
    beta, alpha = np.polyfit(m, r, 1)
    residual = r - alpha - beta * m
    s2 = residual @ residual / (len(r) - 2)
    se = math.sqrt(s2 * (1 / len(r) + m.mean() ** 2 / ((m - m.mean()) @ (m - m.mean()))))
    return {"beta": beta, "alpha": alpha, "t": alpha / se}


def window_start(as_of: date, months: int = 12) -> date | None:
    """The as-of date `months` months before `as_of` (None before the world): the window is (start, as_of]."""
    year, month = divmod(as_of.year * 12 + as_of.month - 1 - months, 12)
    return next((d for d in ASOF if (d.year, d.month) == (year, month + 1)), None)


def trailing(returns: pd.Series, as_of: date, months: int = 12) -> np.ndarray:
    start = window_start(as_of, months) or date.min
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


def period_of(day: date) -> date:
    """The as-of date whose period `day` belongs to: the first on or after it."""
    return next(d for d in ASOF if d >= day)


def position_values(holdings: dict[str, float], as_of: date) -> dict[str, float]:
    prices = closes()
    return {symbol: abs(qty) * prices[symbol][as_of] for symbol, qty in holdings.items() if qty}


# --- the evidence world: daily rows for the regression sums, random prices -------------------------

EVIDENCE_DAYS = pd.bdate_range("2020-01-01", "2021-06-30")
EVIDENCE_LAST_PERIOD = 2021 * 12 + 5  # June 2021: the last as-of month
CLOSED_AFTER = pd.Timestamp("2020-11-20")  # account "closer" has no snapshot after this day


def month_period(day: pd.Timestamp) -> int:
    """The feature job's period (month index) of a day."""
    return day.year * 12 + day.month - 1


def evidence_world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(market, daily): closes of two stocks and the index, and the daily rows of two accounts.

    ``daily`` has the columns `components.features.evidence.evidence_sums` reads (account_id, period,
    date, previous_date, r, m) plus ``u``, the universe's return over the same days, for reference.
    """
    rng = np.random.default_rng(5)
    closes = {
        "AAA": 100 * np.cumprod(1 + rng.normal(0.001, 0.02, len(EVIDENCE_DAYS))),
        "BBB": 50 * np.cumprod(1 + rng.normal(0.0, 0.01, len(EVIDENCE_DAYS))),
        INDEX_SYMBOL: 3000 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(EVIDENCE_DAYS))),
    }
    market = pd.DataFrame(
        [
            (day.date(), symbol, float(series[i]))
            for symbol, series in closes.items()
            for i, day in enumerate(EVIDENCE_DAYS)
        ],
        columns=["date", "symbol", "close"],
    )
    stock_growth = pd.DataFrame({s: closes[s][1:] / closes[s][:-1] for s in ("AAA", "BBB")}).mean(axis=1)
    universe = np.concatenate([[np.nan], stock_growth.to_numpy() - 1])
    index = np.concatenate([[np.nan], closes[INDEX_SYMBOL][1:] / closes[INDEX_SYMBOL][:-1] - 1])
    rows = []
    for account, edge in (("steady", 0.002), ("closer", 0.0)):
        days = EVIDENCE_DAYS if account == "steady" else EVIDENCE_DAYS[EVIDENCE_DAYS <= CLOSED_AFTER]
        r = edge + 0.8 * universe[: len(days)] + rng.normal(0, 0.01, len(days))
        r[0] = np.nan  # an account's first row has no return
        for i, day in enumerate(days):
            previous = days[i - 1].date() if i else None
            rows.append((account, month_period(day), day.date(), previous, r[i], index[i] if i else None))
    daily = pd.DataFrame(rows, columns=["account_id", "period", "date", "previous_date", "r", "m"])
    daily["u"] = np.where(daily["previous_date"].isna(), np.nan, np.tile(universe, 2)[: len(daily)])
    return market, daily


def evidence_frames(
    spark: SparkSession, market: pd.DataFrame, daily: pd.DataFrame
) -> tuple[DataFrame, DataFrame]:
    """(grid, sums) of the evidence world: both accounts at every as-of month, and `evidence_sums`."""
    sums = evidence_sums(
        spark.createDataFrame(daily.drop(columns="u").astype(object).where(daily.notna(), None)),
        universe_levels(spark.createDataFrame(market)),
    )
    grid = spark.createDataFrame(
        [(a, p) for a in ("steady", "closer") for p in range(2020 * 12, EVIDENCE_LAST_PERIOD + 1)],
        ["account_id", "period"],
    )
    return grid, sums


def ols_alpha_t(r: np.ndarray, x: np.ndarray) -> float:
    """t-statistic of the intercept of r on x, by NumPy least squares."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    residual = r - design @ coef
    sigma2 = residual @ residual / (len(r) - 2)
    return float(coef[0] / np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0]))
