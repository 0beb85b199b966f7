"""Returns: flow-adjusted daily returns of each account, then their sums per account and period.

The daily rows (millions) are read once and summarised per (account, period); every trailing,
since-inception and forward figure is then combined at that small monthly grain
(`components.features.windows`, `components.labels.forward`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from components.contract.tables import INDEX_SYMBOL
from components.features.calendar import HORIZONS
from components.features.stats import compounded
from components.features.trading import KEYS
from feature_repo.feature_schema import ENTITY_KEY

GROWTH_FLOOR = 1e-12  # a total loss (or worse, on margin) counts as a fall to this fraction of wealth
SUMS = ("n", "sum_r", "sum_r2", "sum_down2", "sum_log")  # per-period sums of daily returns
MOMENT_SUMS = ("sum_r3", "sum_r4")
# Sums over returns paired with the index's return on the same days (m), for the market regression.
MARKET_SUMS = ("pair_n", "pair_m", "pair_r", "pair_m2", "pair_r2", "pair_rm")


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
