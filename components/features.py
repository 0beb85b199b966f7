"""Point-in-time features and forward labels per (account, as-of date), computed with Spark.

As-of dates are the last trading day of each calendar month of the market calendar (and the last
trading day of the data when it ends mid-month). A feature at an as-of date T uses rows dated <= T
only; a label uses rows dated strictly after T. Every daily row belongs to the *period* of the first
as-of date on or after it; a period is named by the month index ``year * 12 + month - 1`` of its
as-of date, so "the trailing 12 months at T" are the periods ``p - 11 .. p``.

The daily rows (millions) are read once and summarised per account and period; trailing-12-month,
since-inception and forward figures are then combined at that small monthly grain with running
windows and lags, never with sliding windows over daily rows.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql import types as T

from components.contract import INDEX_SYMBOL, REQUIRED_TABLES, TABLES
from components.layout import DataLayout
from components.spark import spark_session
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES, LABELS

logger = logging.getLogger(__name__)

TRADING_DAYS_PER_YEAR = 252
TRAILING_MONTHS = 12
LABEL_HORIZON_DAYS = 30
MIN_LABEL_RETURNS = 10
MARKET_VOL_DAYS = 21
POSITION_EPSILON = 1e-9  # |cumulative quantity| at or below this is a closed position
GROWTH_FLOOR = 1e-12  # a total loss (or worse, on margin) counts as a fall to this fraction of wealth
KEYS = [ENTITY_KEY, "period"]
HORIZONS = (1, 2)  # a daily return can fall in the label windows of the previous two as-of dates
SUMS = ("n", "sum_r", "sum_r2", "sum_down2", "sum_log")  # per-period sums of daily returns
MOMENT_SUMS = ("sum_r3", "sum_r4")
# Sums over returns paired with the index's return on the same days (m), for the market regression.
MARKET_SUMS = ("pair_n", "pair_m", "pair_r", "pair_m2", "pair_r2", "pair_rm")


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
    daily = daily_returns(tables["snapshots"], days, index_closes(tables["market"]))
    monthly = materialise(monthly_returns(daily), "monthly returns")
    positions = materialise(monthly_positions(tables["trades"], days), "monthly positions")
    panel = materialise(feature_panel(tables, calendar, days, asof, monthly, positions), "feature panel")
    write_table(panel, list(FEATURES), layout.features)
    write_table(panel, list(LABELS), layout.labels)
    counts = panel_counts(panel)
    for frame in (panel, positions, monthly):
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
) -> DataFrame:
    """Every feature and label on the account x as-of grid, keyed by (account_id, period), with as_of."""
    grid = account_grid(tables["accounts"], monthly, asof)
    held = holdings(positions, closes_at_asof(tables["market"], days), calendar.last_period)
    return (
        return_features(grid, monthly, trade_counts(positions))
        .join(held, KEYS, "left")
        .fillna(0, subset=["n_tickers"])
        .join(F.broadcast(market_context(tables["market"], days)), "period", "left")
        .join(forward_labels(monthly, asof, calendar.last), KEYS, "left")
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
    """The as-of dates of a run, ascending (one per calendar month), and the first day of the data.

    Days from `first_day` to the month before the first as-of date (trades made before the first
    snapshot, say) keep the period of their own month: they count for positions, never for a window.
    """

    dates: list[date]
    first_day: date | None = None

    @property
    def last(self) -> date:
        return self.dates[-1]

    @property
    def last_period(self) -> int:
        return month_period(self.last)


def asof_calendar(tables: dict[str, DataFrame]) -> AsOfCalendar:
    """Last market day of each month from the first to the last snapshot.

    Raises:
        ValueError: There are no snapshots, or no market days in their span.
    """
    span = tables["snapshots"].agg(F.min("date").alias("start"), F.max("date").alias("end")).first()
    if span["end"] is None:
        raise ValueError("clean snapshots are empty: there is nothing to compute features from")
    months = (
        tables["market"]
        .where(F.col("date") <= F.lit(span["end"]))
        .groupBy(F.year("date"), F.month("date"))
        .agg(F.min("date").alias("first"), F.max("date").alias("last"))
        .collect()
    )
    dates = sorted(row["last"] for row in months if row["last"] >= span["start"].replace(day=1))
    if not dates:
        raise ValueError(f"the market calendar has no trading day between {span['start']} and {span['end']}")
    return AsOfCalendar(dates, min(span["start"], *(row["first"] for row in months)))


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
    """One row per as-of date: period, as_of (date), and the periods of the two previous as-of dates."""
    periods = [month_period(d) for d in calendar.dates]
    rows = [
        (periods[k], d, *[periods[k - h] if k >= h else None for h in HORIZONS])
        for k, d in enumerate(calendar.dates)
    ]
    schema = T.StructType(
        [
            T.StructField("period", T.IntegerType(), False),
            T.StructField("as_of", T.DateType(), False),
            *[T.StructField(f"previous_period_{h}", T.IntegerType(), True) for h in HORIZONS],
        ]
    )
    return spark.createDataFrame(rows, schema)


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
    ``m`` is the index's return over the same days (null without r or an index close). Rows after the
    last as-of date are dropped.
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


def monthly_returns(daily: DataFrame) -> DataFrame:
    """Per (account, period): return sums, the log-wealth path's range and drawdown, label sums.

    Within a period, ``level`` is log-wealth relative to the period's start; ``high`` (>= 0, the
    start counts as a peak) and ``low`` are its extremes and ``fall`` its largest peak-to-trough drop.
    ``label{h}_*`` sum the returns that fall in the label window of the h-th previous as-of date.
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
        )
    )


# ---------------------------------------------------------------------------------------------------
# Statistics of summed returns


def mean(n: Column, total: Column) -> Column:
    """Mean return; null when there are none."""
    return F.try_divide(total, n)


def sample_sd(n: Column, total: Column, total_sq: Column) -> Column:
    """Sample standard deviation (n - 1) from sums; null for fewer than two returns."""
    variance = F.try_divide(total_sq - n * F.pow(mean(n, total), 2), n - 1)
    return F.sqrt(F.when(variance < 0, F.lit(0.0)).otherwise(variance))


def annualised_sharpe(n: Column, total: Column, total_sq: Column) -> Column:
    """Mean over sample standard deviation, times sqrt(252); null for no spread or < 2 returns."""
    return F.try_divide(mean(n, total), sample_sd(n, total, total_sq)) * math.sqrt(TRADING_DAYS_PER_YEAR)


def annualised_sortino(n: Column, total: Column, down_sq: Column) -> Column:
    """Mean over downside deviation (root mean squared loss, target 0), annualised."""
    return F.try_divide(mean(n, total), F.sqrt(F.try_divide(down_sq, n))) * math.sqrt(TRADING_DAYS_PER_YEAR)


def skewness_and_kurtosis(
    n: Column, total: Column, total_sq: Column, total_cube: Column, total_fourth: Column
) -> tuple[Column, Column]:
    """Population skewness and (non-excess) kurtosis from power sums; null for < 3 returns or no spread."""
    mu = mean(n, total)
    e2, e3, e4 = (F.try_divide(power_sum, n) for power_sum in (total_sq, total_cube, total_fourth))
    m2 = e2 - mu * mu
    m3 = e3 - 3 * mu * e2 + 2 * mu * mu * mu
    m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu * mu * mu * mu
    defined = (n >= 3) & (m2 > 0)
    return F.when(defined, m3 / F.pow(m2, 1.5)), F.when(defined, m4 / (m2 * m2))


def market_regression(
    n: Column, sum_m: Column, sum_r: Column, sum_m2: Column, sum_r2: Column, sum_rm: Column
) -> tuple[Column, Column, Column]:
    """OLS of returns r on the index's returns m: beta, annualised alpha and alpha's t-statistic.

    From sums over paired returns; null for fewer than 3 pairs or an index that did not move. The
    t-statistic uses the residual variance with n - 2 degrees of freedom.
    """
    mean_m, mean_r = mean(n, sum_m), mean(n, sum_r)
    var_m = sum_m2 - n * mean_m * mean_m  # centred sums of squares and products
    cov = sum_rm - n * mean_m * mean_r
    var_r = sum_r2 - n * mean_r * mean_r
    beta = F.try_divide(cov, var_m)
    alpha = mean_r - beta * mean_m
    residual = F.try_divide(var_r - beta * cov, n - 2)
    alpha_se = F.sqrt(
        F.when(residual < 0, F.lit(0.0)).otherwise(residual) * (1 / n + mean_m * mean_m / var_m)
    )
    defined = n >= 3
    return (
        F.when(defined, beta),
        F.when(defined, alpha * TRADING_DAYS_PER_YEAR),
        F.when(defined, F.try_divide(alpha, alpha_se)),
    )


def compounded(sum_log: Column) -> Column:
    """Compounded return from the sum of log-growths: prod(1 + r) - 1."""
    return F.exp(sum_log) - 1


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


def return_features(grid: DataFrame, monthly: DataFrame, trades: DataFrame) -> DataFrame:
    """Trailing-12-month and since-inception return features, trade count and tenure on the grid.

    Window sums are named columns first, so that each is computed once.

    Args:
        grid: (account_id, period, as_of, opened_at), from `account_grid`.
        monthly: Per (account, period) sums, from `monthly_returns`.
        trades: (account_id, period, trades), from `trade_counts`.
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    trailing = by_account.rangeBetween(-(TRAILING_MONTHS - 1), 0)
    to_date = by_account.rowsBetween(Window.unboundedPreceding, 0)
    before = by_account.rowsBetween(Window.unboundedPreceding, -1)
    start_level = F.coalesce(F.sum("sum_log").over(before), F.lit(0.0))
    rolled = (
        grid.join(monthly, KEYS, "left")
        .join(trades, KEYS, "left")
        .withColumn("start_level", start_level)
        .select(
            *KEYS,
            "as_of",
            "opened_at",
            (F.col("start_level") + F.col("high")).alias("peak"),
            (F.col("start_level") + F.col("low")).alias("trough"),
            *[
                F.sum(name).over(trailing).alias(f"{name}_12m")
                for name in (*SUMS, *MOMENT_SUMS, *MARKET_SUMS, "trades")
            ],
            F.max("fall").over(trailing).alias("fall_12m"),
            F.coalesce(F.sum("n").over(to_date), F.lit(0)).alias("track_record"),
            F.sum("sum_log").over(to_date).alias("sum_log_to_date"),
        )
        .select("*", *lagged(["period", "peak", "trough"], by_account))
    )
    n, total, total_sq, down_sq, total_log = (F.col(f"{name}_12m") for name in SUMS)
    has_returns = n > 0
    skew, kurtosis = skewness_and_kurtosis(
        n, total, total_sq, *(F.col(f"{name}_12m") for name in MOMENT_SUMS)
    )
    beta, alpha, alpha_t = market_regression(*(F.col(f"{name}_12m") for name in MARKET_SUMS))
    return rolled.select(
        *KEYS,
        "as_of",
        annualised_sharpe(n, total, total_sq).alias("sharpe_12m"),
        annualised_sortino(n, total, down_sq).alias("sortino_12m"),
        (sample_sd(n, total, total_sq) * math.sqrt(TRADING_DAYS_PER_YEAR)).alias("volatility_12m"),
        F.when(has_returns, 1 - F.exp(-trailing_log_drawdown())).alias("max_drawdown_12m"),
        F.when(has_returns, compounded(total_log)).alias("return_12m"),
        F.coalesce("trades_12m", F.lit(0)).alias("trade_count_12m"),
        F.datediff("as_of", "opened_at").alias("tenure_days"),
        F.col("track_record").alias("track_record_days"),
        F.when(F.col("track_record") > 0, compounded(F.col("sum_log_to_date"))).alias("roi_since_inception"),
        F.coalesce(n, F.lit(0)).alias("returns_12m"),
        skew.alias("skew_12m"),
        kurtosis.alias("kurtosis_12m"),
        beta.alias("beta_12m"),
        alpha.alias("alpha_12m"),
        alpha_t.alias("alpha_tstat_12m"),
    )


# ---------------------------------------------------------------------------------------------------
# Trading: activity and holdings


def monthly_positions(trades: DataFrame, days: DataFrame) -> DataFrame:
    """Per (account, symbol, period): number of trades and net signed quantity (buys minus sells)."""
    signed = F.when(F.col("side") == "buy", F.col("qty")).when(F.col("side") == "sell", -F.col("qty"))
    return (
        trades.withColumn("date", F.to_date("ts"))
        .join(F.broadcast(days.select("date", "period")), "date")
        .groupBy(ENTITY_KEY, "symbol", "period")
        .agg(F.count(F.lit(1)).alias("trades"), F.coalesce(F.sum(signed), F.lit(0.0)).alias("net_qty"))
    )


def trade_counts(positions: DataFrame) -> DataFrame:
    """Per (account, period): number of trades."""
    return positions.groupBy(*KEYS).agg(F.sum("trades").alias("trades"))


def closes_at_asof(market: DataFrame, days: DataFrame) -> DataFrame:
    """Per (symbol, period): the last close on or before the period's as-of date."""
    return (
        market.join(F.broadcast(days.select("date", "period")), "date")
        .groupBy("symbol", "period")
        .agg(F.max_by("close", "date").alias("close"))
    )


def holdings(positions: DataFrame, closes: DataFrame, last_period: int) -> DataFrame:
    """Per (account, period): symbols held at the as-of date and HHI of their absolute values.

    A position is the cumulative signed quantity of a symbol up to T, valued at T's close; it is
    carried over the periods without trades up to the next change (or the last period).
    """
    by_symbol = Window.partitionBy(ENTITY_KEY, "symbol").orderBy("period")
    carried = positions.select(
        ENTITY_KEY,
        "symbol",
        "period",
        F.sum("net_qty").over(by_symbol.rowsBetween(Window.unboundedPreceding, 0)).alias("qty"),
        F.coalesce(F.lead("period").over(by_symbol) - 1, F.lit(last_period)).alias("until"),
    ).where(F.abs("qty") > POSITION_EPSILON)
    value = F.abs(F.col("qty") * F.col("close"))
    return (
        carried.select(ENTITY_KEY, "symbol", "qty", F.explode(F.sequence("period", "until")).alias("period"))
        .join(F.broadcast(closes), ["symbol", "period"], "left")
        .groupBy(*KEYS)
        .agg(
            F.count(F.lit(1)).alias("n_tickers"),
            F.try_divide(F.sum(value * value), F.pow(F.sum(value), 2)).alias("hhi"),
        )
    )


# ---------------------------------------------------------------------------------------------------
# Market context and labels


def market_context(market: DataFrame, days: DataFrame) -> DataFrame:
    """Per period: annualised realised volatility of the index's last 21 daily returns at T."""
    by_date = Window.partitionBy("symbol").orderBy("date")
    last_days = by_date.rowsBetween(-(MARKET_VOL_DAYS - 1), 0)
    volatility = F.when(
        F.count("r").over(last_days) >= MARKET_VOL_DAYS,
        F.stddev_samp("r").over(last_days) * math.sqrt(TRADING_DAYS_PER_YEAR),
    )
    return (
        market.where(F.col("symbol") == INDEX_SYMBOL)
        .withColumn("r", F.try_divide(F.col("close"), F.lag("close").over(by_date)) - 1)
        .withColumn("volatility", volatility)
        .join(F.broadcast(days.select("date", "period")), "date")
        .groupBy("period")
        .agg(F.max_by("volatility", "date").alias("market_vol_21d"))
    )


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
