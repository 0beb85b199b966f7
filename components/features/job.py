"""Point-in-time features and forward labels per (account, as-of date), computed with Spark.

As-of dates are the last trading day of each calendar month of the market calendar (and the last
trading day of the data when it ends mid-month). A feature at an as-of date T uses rows dated <= T
only; a label uses rows dated strictly after T. Every daily row belongs to the *period* of the first
as-of date on or after it; a period is named by the month index ``year * 12 + month - 1`` of its
as-of date, so "the trailing 12 months at T" are the periods ``p - 11 .. p``.

The daily rows (millions) are read once and summarised per account and period; trailing-window,
since-inception and forward figures are then combined at that small monthly grain with running
windows and lags, never with sliding windows over daily rows. The statistics are column expressions
(`components.features.stats`); trades and holdings are summarised in `components.features.trading`
and the market context in `components.features.market`.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql import types as T

from components.config.layout import DataLayout
from components.contract.tables import INDEX_SYMBOL, REQUIRED_TABLES, TABLES
from components.features.evidence import evidence_features, evidence_sums, universe_levels
from components.features.market import (
    closes_at_asof,
    market_context,
    sector_momentum,
    symbol_sectors,
)
from components.features.spark import spark_session
from components.features.stats import (
    ANNUALISE,
    TAIL_DIVISOR,
    annualised_sharpe,
    annualised_sortino,
    compounded,
    gaussian_var_cvar,
    historical_var_cvar,
    market_regression,
    probabilistic_sharpe,
    sample_sd,
    sample_variance,
    skewness_and_kurtosis,
    t_statistic,
)
from components.features.trading import (
    EDGE_LAGS,
    EDGE_SUMS,
    KEYS,
    edge_sum_names,
    holdings,
    monthly_positions,
    trade_activity,
    trade_windows,
)
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES, LABELS

logger = logging.getLogger(__name__)

TRAILING_MONTHS = 12
SHORT_WINDOWS = (3, 6)  # months of the shorter Sharpe and Sortino windows
LABEL_HORIZON_DAYS = 30
MIN_LABEL_RETURNS = 10
MIN_EDGE_TRADES = 5
GROWTH_FLOOR = 1e-12  # a total loss (or worse, on margin) counts as a fall to this fraction of wealth
DAYS_PER_MONTH = 365.25 / 12
HORIZONS = (1, 2)  # a daily return can fall in the label windows of the previous two as-of dates
SUMS = ("n", "sum_r", "sum_r2", "sum_down2", "sum_log")  # per-period sums of daily returns
MOMENT_SUMS = ("sum_r3", "sum_r4")
# Sums over returns paired with the index's return on the same days (m), for the market regression.
MARKET_SUMS = ("pair_n", "pair_m", "pair_r", "pair_m2", "pair_r2", "pair_rm")
MONTH_SUMS = ("months_n", "months_sum", "months_sum_sq")  # of the compounded return of each period
EQUITY_SUMS = ("sum_equity", "n_equity")  # of daily equity, for the average equity of a window
ACTIVITY_SUMS = ("trades", "notional")
HOLDINGS = ("n_tickers", "hhi", "top3_share", "max_sector_share", "sector_count", "index_share")


# ---------------------------------------------------------------------------------------------------
# Entry point


def build_features(layout: DataLayout, spark: SparkSession | None = None) -> dict[str, int]:
    """Compute `features/` and `labels/` under `layout` from its clean tables.

    Args:
        layout: Data root; reads ``clean/{accounts,trades,snapshots,market,sectors}`` and writes
            ``features/`` and ``labels/`` (Parquet directories, replaced on every run).
        spark: A running session; when omitted, a local one is started and stopped.

    Returns:
        ``{"rows": ..., "accounts": ..., "as_of_dates": ...}`` of the written feature table.
    """
    if spark is None:
        with spark_session("skillrank-features") as session:
            return build_features(layout, session)
    tables = {name: read_clean(spark, layout, name) for name in REQUIRED_TABLES}
    calendar = asof_calendar(tables)
    logger.info("features: %d as-of dates, %s .. %s", len(calendar.dates), calendar.dates[0], calendar.last)
    days, asof = day_frame(spark, calendar), asof_frame(spark, calendar)
    trading, base_days = trading_day_frames(spark, calendar)
    daily = daily_returns(tables["snapshots"], days, index_closes(tables["market"]))
    monthly = materialise(monthly_returns(daily, tail_length(calendar)), "monthly returns")
    windows = trade_windows(tables["market"], trading)
    positions = materialise(
        monthly_positions(tables["trades"], days, base_days, windows), "monthly positions"
    )
    evidence = materialise(evidence_sums(daily, universe_levels(tables["market"])), "evidence sums")
    panel = materialise(
        feature_panel(tables, calendar, days, asof, monthly, positions, evidence), "feature panel"
    )
    write_table(panel, list(FEATURES), layout.features)
    write_table(panel, list(LABELS), layout.labels)
    counts = panel_counts(panel)
    for frame in (panel, evidence, positions, monthly):
        frame.unpersist()
    logger.info("features: wrote %s to %s and %s", counts, layout.features, layout.labels)
    return counts


def feature_panel(
    tables: dict[str, DataFrame],
    calendar: AsOfCalendar,
    days: DataFrame,
    asof: DataFrame,
    monthly: DataFrame,
    positions: DataFrame,
    evidence: DataFrame,
) -> DataFrame:
    """Every feature and label on the account x as-of grid, keyed by (account_id, period), with as_of.

    `evidence` holds the per-period regression sums of `components.features.evidence` (since-inception
    evidence and the 12-month forward label).
    """
    grid = account_grid(tables["accounts"], monthly, asof)
    closes = closes_at_asof(tables["market"], days)
    sectors = symbol_sectors(closes, tables["sectors"])
    held = holdings(positions, closes, sectors, sector_momentum(closes, sectors), calendar.last_period)
    rolled = rolled_panel(grid, monthly, trade_activity(positions), held)
    return (
        rolled.select(
            *KEYS,
            "as_of",
            *return_columns(),
            *risk_columns(),
            *trading_columns(),
            *[F.col(name) for name in (*HOLDINGS, "sector_momentum", "net_deposits")],
            F.array_sort("tail_12m").alias("tail_12m"),
        )
        .select("*", *evidence_and_tail_columns())
        .drop("tail_12m")
        .fillna(0, subset=["n_tickers", "sector_count"])
        .join(F.broadcast(market_context(tables["market"], days, closes)), "period", "left")
        .join(forward_labels(monthly, asof, calendar.last), KEYS, "left")
        .join(next_day_label(monthly, asof), KEYS, "left")
        .join(evidence_features(grid, evidence, calendar.last_period), KEYS, "left")
    )


def materialise(frame: DataFrame, what: str) -> DataFrame:
    """Cache `frame` and compute it now, so that later queries read it instead of recomputing it."""
    rows = frame.persist().count()
    logger.info("features: %s ready (%d rows)", what, rows)
    return frame


def panel_counts(panel: DataFrame) -> dict[str, int]:
    """Rows, distinct accounts and distinct as-of dates of the feature panel."""
    row = panel.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(ENTITY_KEY).alias("accounts"),
        F.countDistinct("period").alias("as_of_dates"),
    ).first()
    return {key: int(row[key]) for key in ("rows", "accounts", "as_of_dates")}


# ---------------------------------------------------------------------------------------------------
# Inputs and the as-of calendar


def read_clean(spark: SparkSession, layout: DataLayout, table: str) -> DataFrame:
    """The contract columns of one clean table (extra columns are dropped).

    Raises:
        FileNotFoundError: The clean table does not exist (ingest has not run).
        ValueError: Required columns are missing; the message names them.
    """
    path = layout.clean(table)
    if not path.exists():
        raise FileNotFoundError(f"clean table {table!r} not found at {path}: run the ingest step first")
    frame = spark.read.parquet(str(path))
    missing = [column for column in TABLES[table] if column not in frame.columns]
    if missing:
        raise ValueError(f"clean table {table!r} at {path} lacks required columns {missing}")
    return frame.select(*TABLES[table])


def month_period(day: date) -> int:
    """The period (month index) of a date.

    Example:
        >>> month_period(date(2021, 1, 29))
        24252
    """
    return day.year * 12 + day.month - 1


@dataclass(frozen=True)
class AsOfCalendar:
    """The as-of dates of a run, ascending (one per calendar month), the first day of the data, and
    the market's trading days up to the last as-of date.

    Days from `first_day` to the month before the first as-of date (trades made before the first
    snapshot, say) keep the period of their own month: they count for positions, never for a window.
    """

    dates: list[date]
    first_day: date | None = None
    trading_days: list[date] = field(default_factory=list)

    @property
    def last(self) -> date:
        return self.dates[-1]

    @property
    def last_period(self) -> int:
        return month_period(self.last)

    def next_trading_day(self, day: date) -> date | None:
        """The first trading day strictly after `day`, if the calendar has one."""
        i = bisect_right(self.trading_days, day)
        return self.trading_days[i] if i < len(self.trading_days) else None


def asof_calendar(tables: dict[str, DataFrame]) -> AsOfCalendar:
    """Last market day of each month from the first to the last snapshot, and the market's days.

    Raises:
        ValueError: There are no snapshots, or no market days in their span.
    """
    span = tables["snapshots"].agg(F.min("date").alias("start"), F.max("date").alias("end")).first()
    if span["end"] is None:
        raise ValueError("clean snapshots are empty: there is nothing to compute features from")
    market_days = sorted(
        row["date"]
        for row in tables["market"]
        .where(F.col("date") <= F.lit(span["end"]))
        .select("date")
        .distinct()
        .collect()
    )
    months: dict[int, list[date]] = {}
    for day in market_days:
        months.setdefault(month_period(day), []).append(day)
    dates = [days[-1] for days in months.values() if days[-1] >= span["start"].replace(day=1)]
    if not dates:
        raise ValueError(f"the market calendar has no trading day between {span['start']} and {span['end']}")
    return AsOfCalendar(dates, min(span["start"], market_days[0]), market_days)


def tail_length(calendar: AsOfCalendar) -> int:
    """How many of its smallest daily returns each period keeps for the 12-month historical VaR.

    The k smallest returns of a 12-month window are among the k smallest of each of its months, so
    keeping per month the most a window can need, ceil(n_max / 20) with n_max the most trading days
    of 12 consecutive periods, makes the merged VaR and CVaR exact (snapshots fall on trading days
    only: ingest rejects the others) for a few numbers per account and month.
    """
    per_period = Counter(month_period(day) for day in calendar.trading_days)
    most = max(
        (sum(per_period[p - k] for k in range(TRAILING_MONTHS)) for p in per_period), default=TAIL_DIVISOR
    )
    return math.ceil(most / TAIL_DIVISOR)


def day_rows(calendar: AsOfCalendar) -> list[tuple[date, int, bool, bool]]:
    """Each calendar day up to the last as-of date: its period and the label windows it falls in.

    A day d belongs to the period of the first as-of date T_k >= d. It lies in the label window
    (T, T + 30 days] of the previous as-of date (``in_label_1``) and/or the one before (``in_label_2``).
    """
    horizon, month_start = timedelta(days=LABEL_HORIZON_DAYS), calendar.dates[0].replace(day=1)
    day = min(calendar.first_day or month_start, month_start)
    rows = []
    while day < month_start:
        rows.append((day, month_period(day), False, False))
        day += timedelta(days=1)
    for k, asof in enumerate(calendar.dates):
        while day <= asof:
            in_window = [k >= h and day <= calendar.dates[k - h] + horizon for h in HORIZONS]
            rows.append((day, month_period(asof), *in_window))
            day += timedelta(days=1)
    return rows


def day_frame(spark: SparkSession, calendar: AsOfCalendar) -> DataFrame:
    """`day_rows` as a small DataFrame (date, period, in_label_1, in_label_2), to broadcast."""
    schema = T.StructType(
        [
            T.StructField("date", T.DateType(), False),
            T.StructField("period", T.IntegerType(), False),
            *[T.StructField(f"in_label_{h}", T.BooleanType(), False) for h in HORIZONS],
        ]
    )
    return spark.createDataFrame(day_rows(calendar), schema)


def asof_frame(spark: SparkSession, calendar: AsOfCalendar) -> DataFrame:
    """One row per as-of date: period, as_of (date), the periods of the two previous as-of dates, and
    the first trading day after it (``next_day``, null at the last) with that day's period."""
    periods = [month_period(d) for d in calendar.dates]
    rows = []
    for k, d in enumerate(calendar.dates):
        next_day = calendar.next_trading_day(d)
        previous = [periods[k - h] if k >= h else None for h in HORIZONS]
        next_period = None if next_day is None else month_period(next_day)
        rows.append((periods[k], d, *previous, next_day, next_period))
    schema = T.StructType(
        [
            T.StructField("period", T.IntegerType(), False),
            T.StructField("as_of", T.DateType(), False),
            *[T.StructField(f"previous_period_{h}", T.IntegerType(), True) for h in HORIZONS],
            T.StructField("next_day", T.DateType(), True),
            T.StructField("next_period", T.IntegerType(), True),
        ]
    )
    return spark.createDataFrame(rows, schema)


def trading_day_frames(spark: SparkSession, calendar: AsOfCalendar) -> tuple[DataFrame, DataFrame]:
    """Two small frames for the trade windows: trading days (k, date, period), k counting from 0, and
    (date, base_k) for every calendar day from the first trading day to the last as-of date, base_k
    being the last trading day on or before it."""
    trading_days = calendar.trading_days
    trading = [(k, day, month_period(day)) for k, day in enumerate(trading_days)]
    span = (calendar.last - trading_days[0]).days + 1 if trading_days else 0
    calendar_days = (trading_days[0] + timedelta(days=i) for i in range(span))
    base = [(day, bisect_right(trading_days, day) - 1) for day in calendar_days]
    trading_schema = T.StructType(
        [
            T.StructField("k", T.IntegerType(), False),
            T.StructField("date", T.DateType(), False),
            T.StructField("period", T.IntegerType(), False),
        ]
    )
    base_schema = T.StructType(
        [T.StructField("date", T.DateType(), False), T.StructField("base_k", T.IntegerType(), False)]
    )
    return spark.createDataFrame(trading, trading_schema), spark.createDataFrame(base, base_schema)


# ---------------------------------------------------------------------------------------------------
# Returns: daily, then per account and period


def index_closes(market: DataFrame) -> DataFrame:
    """(date, index_close): the S&P 500's closes."""
    return market.where(F.col("symbol") == INDEX_SYMBOL).select("date", F.col("close").alias("index_close"))


def daily_returns(snapshots: DataFrame, days: DataFrame, index: DataFrame) -> DataFrame:
    """Flow-adjusted return of each snapshot row over the previous available row of its account.

    ``r_t = equity_t / (equity_{t-1} + net_deposit_t - net_deposit_{t-1}) - 1``; a gap of missing days
    is bridged by one multi-day return. ``r`` is null on an account's first row (and when the base is
    zero); ``log_growth = ln(1 + r)`` (0 where r is null, floored at a total loss) sums to log-wealth;
    ``m`` is the index's return over the same days (null without r or an index close);
    ``previous_date`` is the date r is measured from. Rows after the last as-of date are dropped.
    """
    # Ordered by period too (the same order as by date), so `monthly_returns` reuses this sort.
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period", "date")
    base = F.lag("equity").over(by_account) + F.col("net_deposit") - F.lag("net_deposit").over(by_account)
    growth = F.try_divide(F.col("equity"), base)
    index_growth = F.try_divide(F.col("index_close"), F.lag("index_close").over(by_account))
    return (
        snapshots.join(F.broadcast(days), "date")
        .join(F.broadcast(index), "date", "left")
        .withColumn("growth", growth)
        .withColumn("index_growth", index_growth)
        .select(
            ENTITY_KEY,
            "date",
            "period",
            *[f"in_label_{h}" for h in HORIZONS],
            "equity",
            "net_deposit",
            F.lag("date").over(by_account).alias("previous_date"),
            (F.col("growth") - 1).alias("r"),
            F.when(F.col("growth").isNotNull(), F.ln(F.greatest("growth", F.lit(GROWTH_FLOOR))))
            .otherwise(F.lit(0.0))
            .alias("log_growth"),
            F.when(F.col("growth").isNotNull(), F.col("index_growth") - 1).alias("m"),
        )
    )


def return_sums(r: Column, log_growth: Column, prefix: str) -> list[Column]:
    """Count, sum, sum of squares, sum of squared losses and log-growth of returns `r`."""
    return [
        F.count(r).alias(f"{prefix}n"),
        F.sum(r).alias(f"{prefix}sum_r"),
        F.sum(r * r).alias(f"{prefix}sum_r2"),
        F.sum(F.least(r, F.lit(0.0)) * F.least(r, F.lit(0.0))).alias(f"{prefix}sum_down2"),
        F.sum(log_growth).alias(f"{prefix}sum_log"),
    ]


def moment_and_market_sums(r: Column, m: Column) -> list[Column]:
    """Sums of r^3 and r^4, and the sums of a regression of r on the index's return m."""
    paired = m.isNotNull()
    return [
        F.sum(r * r * r).alias("sum_r3"),
        F.sum(r * r * r * r).alias("sum_r4"),
        F.count(m).alias("pair_n"),
        F.sum(m).alias("pair_m"),
        F.sum(F.when(paired, r)).alias("pair_r"),
        F.sum(m * m).alias("pair_m2"),
        F.sum(F.when(paired, r * r)).alias("pair_r2"),
        F.sum(r * m).alias("pair_rm"),
    ]


def monthly_returns(daily: DataFrame, tail_length: int) -> DataFrame:
    """Per (account, period): return sums, the log-wealth path's range and drawdown, label sums, and more.

    Within a period, ``level`` is log-wealth relative to the period's start; ``high`` (>= 0, the
    start counts as a peak) and ``low`` are its extremes and ``fall`` its largest peak-to-trough drop.
    ``label{h}_*`` sum the returns that fall in the label window of the h-th previous as-of date.
    ``tail`` holds the period's `tail_length` smallest returns, ascending; ``month_return`` is the
    period's compounded return; ``sum_equity``/``n_equity`` sum daily equity; ``net_deposit`` is the
    last one; ``first_r`` is the return of the period's first row, measured from ``first_previous_date``.
    """
    within = (
        Window.partitionBy(ENTITY_KEY, "period").orderBy("date").rowsBetween(Window.unboundedPreceding, 0)
    )
    has_r = F.col("r").isNotNull()
    level = F.when(has_r, F.col("level"))
    return (
        daily.withColumn("level", F.sum("log_growth").over(within))
        .withColumn("fall", F.greatest(F.max("level").over(within), F.lit(0.0)) - F.col("level"))
        .groupBy(*KEYS)
        .agg(
            F.min("date").alias("first_date"),
            *return_sums(F.col("r"), F.col("log_growth"), ""),
            *moment_and_market_sums(F.col("r"), F.col("m")),
            F.greatest(F.max(level), F.lit(0.0)).alias("high"),
            F.min(level).alias("low"),
            F.max(F.when(has_r, F.col("fall"))).alias("fall"),
            *[
                column
                for h in HORIZONS
                for column in return_sums(
                    F.when(F.col(f"in_label_{h}"), F.col("r")),
                    F.when(F.col(f"in_label_{h}"), F.col("log_growth")),
                    f"label{h}_",
                )
            ],
            F.slice(F.array_sort(F.collect_list("r")), 1, tail_length).alias("tail"),
            F.sum("equity").alias("sum_equity"),
            F.count("equity").alias("n_equity"),
            F.max_by("net_deposit", "date").alias("net_deposit"),
            F.min_by("r", "date").alias("first_r"),
            F.min_by("previous_date", "date").alias("first_previous_date"),
        )
        .withColumn("month_return", F.when(F.col("n") > 0, compounded(F.col("sum_log"))))
    )


# ---------------------------------------------------------------------------------------------------
# The account x as-of grid and its return features


def account_grid(accounts: DataFrame, monthly: DataFrame, asof: DataFrame) -> DataFrame:
    """(account_id, period, as_of, opened_at) for each account open at T with a snapshot by T."""
    first_snapshot = monthly.groupBy(ENTITY_KEY).agg(F.min("first_date").alias("first_snapshot"))
    is_open = (F.col("opened_at") <= F.col("as_of")) & (
        F.col("closed_at").isNull() | (F.col("closed_at") > F.col("as_of"))
    )
    return (
        accounts.join(F.broadcast(asof.select("period", "as_of")), is_open)
        .join(first_snapshot, ENTITY_KEY)
        .where(F.col("first_snapshot") <= F.col("as_of"))
        .select(ENTITY_KEY, "period", "as_of", "opened_at")
    )


def lag_name(column: str, k: int) -> str:
    """The name of `column` k grid rows back (k = 0: the column itself)."""
    return column if k == 0 else f"{column}_lag{k}"


def lagged(columns: list[str], by_account: WindowSpec) -> list[Column]:
    """``<column>_lag<k>``: the value k grid rows back, for k = 1 .. 11."""
    return [
        F.lag(column, k).over(by_account).alias(lag_name(column, k))
        for k in range(1, TRAILING_MONTHS)
        for column in columns
    ]


def trailing_log_drawdown() -> Column:
    """Largest fall of log-wealth within the trailing 12 periods, combined from per-period extremes.

    The largest fall is either inside one period (``fall_12m``: the largest of the window) or from
    the highest level ``peak`` of an earlier period i to the lowest level ``trough`` of a later period
    j, both in the window. Reads ``period``, ``peak``, ``trough`` and their lags (``lagged``), which
    count only when the lagged row's period is in the window.
    """

    def in_window(column: str, k: int) -> Column:
        inside = F.col(lag_name("period", k)) >= F.col("period") - (TRAILING_MONTHS - 1)
        return F.when(inside, F.col(lag_name(column, k)))

    falls = [F.col("fall_12m")]
    for j in range(TRAILING_MONTHS - 1):
        earlier_peaks = [in_window("peak", i) for i in range(j + 1, TRAILING_MONTHS)]
        earlier_peak = earlier_peaks[0] if len(earlier_peaks) == 1 else F.greatest(*earlier_peaks)
        falls.append(earlier_peak - in_window("trough", j))
    return F.greatest(*falls)


def rolled_panel(grid: DataFrame, monthly: DataFrame, activity: DataFrame, held: DataFrame) -> DataFrame:
    """The grid with the window sums every feature needs, each a named column computed once.

    ``<sum>_12m`` adds a per-period sum up over the trailing 12 periods (``_3m``, ``_6m``: the
    shorter windows); ``tail_12m`` gathers the periods' smallest returns; ``grid_months_12m`` counts
    the as-of dates of the window the account was on the grid (open, with a snapshot); the trade-edge
    sums count a trade once its window has closed. Running figures since inception, the net deposits
    at T and the per-period holdings ride along.

    Args:
        grid: (account_id, period, as_of, opened_at), from `account_grid`.
        monthly: Per (account, period) sums, from `monthly_returns`.
        activity: Per (account, period) trade sums, from `components.features.trading.trade_activity`.
        held: Per (account, period) holdings, from `components.features.trading.holdings`.
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    year = trailing(by_account, TRAILING_MONTHS)
    to_date = by_account.rowsBetween(Window.unboundedPreceding, 0)
    before = by_account.rowsBetween(Window.unboundedPreceding, -1)
    start_level = F.coalesce(F.sum("sum_log").over(before), F.lit(0.0))
    month_return = F.col("month_return")
    return (
        grid.join(monthly, KEYS, "left")
        .join(activity, KEYS, "left")
        .join(held, KEYS, "left")
        .withColumn("start_level", start_level)
        .select(
            *KEYS,
            "as_of",
            "opened_at",
            *HOLDINGS,
            "sector_momentum",
            (F.col("start_level") + F.col("high")).alias("peak"),
            (F.col("start_level") + F.col("low")).alias("trough"),
            *[
                F.sum(name).over(year).alias(f"{name}_12m")
                for name in (*SUMS, *MOMENT_SUMS, *MARKET_SUMS, *EQUITY_SUMS, *ACTIVITY_SUMS)
            ],
            *[
                F.sum(name).over(trailing(by_account, months)).alias(f"{name}_{months}m")
                for months in SHORT_WINDOWS
                for name in SUMS
            ],
            F.flatten(F.collect_list("tail").over(year)).alias("tail_12m"),
            *[
                aggregate.over(year).alias(f"{name}_12m")
                for name, aggregate in zip(
                    MONTH_SUMS,
                    (F.count(month_return), F.sum(month_return), F.sum(month_return**2)),
                    strict=True,
                )
            ],
            F.count(F.lit(1)).over(year).alias("grid_months_12m"),
            F.sum(F.coalesce("gross_value", F.lit(0.0))).over(year).alias("gross_value_12m"),
            *closed_edge_sums(by_account),
            F.max("fall").over(year).alias("fall_12m"),
            F.coalesce(F.sum("n").over(to_date), F.lit(0)).alias("track_record"),
            F.sum("sum_log").over(to_date).alias("sum_log_to_date"),
            F.last("net_deposit", ignorenulls=True).over(to_date).alias("net_deposits"),
        )
        .select("*", *lagged(["period", "peak", "trough"], by_account))
    )


def closed_edge_sums(by_account: WindowSpec) -> list[Column]:
    """``edge_<sum>_12m``: the edge sums of the trailing 12 periods' trades whose window closed by T.

    A trade of period q whose 10-day window closes ``lag`` periods later counts at T (period p) when
    q is in the window and q + lag <= p: its sums are added up over the periods p - 11 .. p - lag.
    """
    columns = []
    for i, name in enumerate(EDGE_SUMS):
        parts = [
            F.coalesce(
                F.sum(edge_sum_names(lag)[i]).over(trailing(by_account, TRAILING_MONTHS, -lag)), F.lit(0)
            )
            for lag in EDGE_LAGS
        ]
        columns.append(reduce(Column.__add__, parts).alias(f"edge_{name}_12m"))
    return columns


def trailing(by_account: WindowSpec, months: int, end: int = 0) -> WindowSpec:
    """The periods ``p - months + 1 .. p + end`` of each grid row's period p (end <= 0)."""
    return by_account.rangeBetween(-(months - 1), end)


def window_sums(names: tuple[str, ...], months: int) -> list[Column]:
    """The `rolled_panel` columns of `names` summed over the trailing `months`."""
    return [F.col(f"{name}_{months}m") for name in names]


def return_columns() -> list[Column]:
    """Risk-adjusted returns, volatility, drawdown and returns over the windows, and the track record."""
    n, total, total_sq, down_sq, total_log = window_sums(SUMS, TRAILING_MONTHS)
    has_returns = n > 0
    shorter = []
    for months in SHORT_WINDOWS:
        n_m, total_m, total_sq_m, down_sq_m, _ = window_sums(SUMS, months)
        shorter += [
            annualised_sharpe(n_m, total_m, total_sq_m).alias(f"sharpe_{months}m"),
            annualised_sortino(n_m, total_m, down_sq_m).alias(f"sortino_{months}m"),
        ]
    return [
        annualised_sharpe(n, total, total_sq).alias("sharpe_12m"),
        annualised_sortino(n, total, down_sq).alias("sortino_12m"),
        (sample_sd(n, total, total_sq) * ANNUALISE).alias("volatility_12m"),
        F.when(has_returns, 1 - F.exp(-trailing_log_drawdown())).alias("max_drawdown_12m"),
        F.when(has_returns, compounded(total_log)).alias("return_12m"),
        F.datediff("as_of", "opened_at").alias("tenure_days"),
        F.col("track_record").alias("track_record_days"),
        F.when(F.col("track_record") > 0, compounded(F.col("sum_log_to_date"))).alias("roi_since_inception"),
        F.coalesce(n, F.lit(0)).alias("returns_12m"),
        *shorter,
        sample_variance(*window_sums(MONTH_SUMS, TRAILING_MONTHS)).alias("monthly_return_var_12m"),
    ]


def risk_columns() -> list[Column]:
    """Moments, Gaussian VaR and CVaR of the 12-month daily returns, and their regression on the S&P 500."""
    n, total, total_sq, _, _ = window_sums(SUMS, TRAILING_MONTHS)
    skew, kurtosis = skewness_and_kurtosis(n, total, total_sq, *window_sums(MOMENT_SUMS, TRAILING_MONTHS))
    var_param, cvar_param = gaussian_var_cvar(n, total, total_sq)
    market = market_regression(*window_sums(MARKET_SUMS, TRAILING_MONTHS))
    return [
        skew.alias("skew_12m"),
        kurtosis.alias("kurtosis_12m"),
        market["beta"].alias("beta_12m"),
        market["alpha"].alias("alpha_12m"),
        market["alpha_t"].alias("alpha_tstat_12m"),
        var_param.alias("var_95_param_12m"),
        cvar_param.alias("cvar_95_param_12m"),
        market["corr"].alias("corr_spx_12m"),
    ]


def evidence_and_tail_columns() -> list[Column]:
    """PSR and historical VaR and CVaR, from columns of the previous step (``sharpe_12m``, ``skew_12m``,
    ``kurtosis_12m``, ``returns_12m`` and the sorted ``tail_12m``).

    A step of its own: their formulas use each input several times, and Spark does not share a
    sub-expression inside a conditional branch, so they read finished columns, not expressions.
    """
    n = F.col("returns_12m")
    sharpe_per_day = F.col("sharpe_12m") / ANNUALISE
    var_hist, cvar_hist = historical_var_cvar(F.col("tail_12m"), n)
    return [
        probabilistic_sharpe(sharpe_per_day, n, F.col("skew_12m"), F.col("kurtosis_12m")).alias("psr_12m"),
        var_hist.alias("var_95_hist_12m"),
        cvar_hist.alias("cvar_95_hist_12m"),
    ]


def trading_columns() -> list[Column]:
    """Trade count and frequency, turnover, holding period and the edge of trades, trailing 12 months.

    - ``trade_frequency``: trades per as-of date the account was on the grid in the window;
    - ``turnover_12m``: traded notional over average daily equity, scaled to 12 months;
    - ``avg_holding_days``: average holding period by Little's law, inventory over throughput: the
      mean month-end position value over half the traded notional per day (null without trades);
    - ``trade_edge_tstat_12m``: t-statistic of the trades' signed 10-day returns over the S&P 500,
      counting only windows closed by T (null for fewer than 5 trades).
    """
    trades, notional, months = (
        F.coalesce("trades_12m", F.lit(0)),
        F.col("notional_12m"),
        F.col("grid_months_12m"),
    )
    average_equity = F.try_divide(F.col("sum_equity_12m"), F.col("n_equity_12m"))
    notional_per_day = F.try_divide(notional, months * DAYS_PER_MONTH)
    average_positions = F.col("gross_value_12m") / months
    return [
        trades.alias("trade_count_12m"),
        (trades / months).alias("trade_frequency"),
        F.when(
            average_equity > 0, F.coalesce(notional, F.lit(0.0)) / average_equity * TRAILING_MONTHS / months
        ).alias("turnover_12m"),
        F.try_divide(2 * average_positions, notional_per_day).alias("avg_holding_days"),
        t_statistic(
            *window_sums(tuple(f"edge_{name}" for name in EDGE_SUMS), TRAILING_MONTHS), MIN_EDGE_TRADES
        ).alias("trade_edge_tstat_12m"),
    ]


def forward_labels(monthly: DataFrame, asof: DataFrame, last_day: date) -> DataFrame:
    """Per (account, period): Sharpe and compounded return of the returns dated in (T, T + 30 days].

    Null when fewer than `MIN_LABEL_RETURNS` returns fall in the window, or when the window is not
    over by the last day of the data (an immature label would be a partial window).
    """
    parts = [
        monthly.join(F.broadcast(asof.select("period", f"previous_period_{h}")), "period").select(
            ENTITY_KEY,
            F.col(f"previous_period_{h}").alias("period"),
            *[F.col(f"label{h}_{name}").alias(name) for name in SUMS],
        )
        for h in HORIZONS
    ]
    window_sums = (
        reduce(DataFrame.unionByName, parts)
        .where(F.col("period").isNotNull())
        .groupBy(*KEYS)
        .agg(*[F.sum(name).alias(name) for name in SUMS])
    )
    mature = F.date_add("as_of", LABEL_HORIZON_DAYS) <= F.lit(last_day)
    valid = mature & (F.col("n") >= MIN_LABEL_RETURNS)
    return window_sums.join(F.broadcast(asof.select("period", "as_of")), "period").select(
        *KEYS,
        F.when(valid, annualised_sharpe(F.col("n"), F.col("sum_r"), F.col("sum_r2"))).alias("fwd_sharpe_30d"),
        F.when(valid, compounded(F.col("sum_log"))).alias("fwd_return_30d"),
    )


def next_day_label(monthly: DataFrame, asof: DataFrame) -> DataFrame:
    """Per (account, period): ``fwd_return_1d``, the return of the first trading day after T.

    It is the return of the account's first row of the next period when that row is dated on the
    first trading day after T and measured from a snapshot at T; null otherwise (a missing snapshot
    on either day would make it a return over other days), and at the last as-of date.
    """
    label_days = asof.where(F.col("next_day").isNotNull()).select(
        F.col("period").alias("asof_period"), "as_of", "next_day", F.col("next_period").alias("period")
    )
    one_day = (F.col("first_date") == F.col("next_day")) & (F.col("first_previous_date") == F.col("as_of"))
    return monthly.join(F.broadcast(label_days), "period").select(
        ENTITY_KEY,
        F.col("asof_period").alias("period"),
        F.when(one_day, F.col("first_r")).alias("fwd_return_1d"),
    )


# ---------------------------------------------------------------------------------------------------
# Output


def write_table(panel: DataFrame, columns: list[str], path: Path) -> None:
    """Write (account_id, as_of_date timestamp at midnight UTC, `columns` as float64) to `path`."""
    (
        panel.select(
            ENTITY_KEY,
            F.col("as_of").cast("timestamp").alias(EVENT_TIMESTAMP),
            *[F.col(column).cast("double").alias(column) for column in columns],
        )
        .sortWithinPartitions(EVENT_TIMESTAMP, ENTITY_KEY)
        .write.mode("overwrite")
        .parquet(str(path))
    )
