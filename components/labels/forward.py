"""The forward labels the Spark feature job writes to ``labels/``, over the windows of the label table.

A label at an as-of date T reads only returns dated strictly after T, and is null until its window
is over by the last day of the data (an immature label would be a partial window) or when too few
returns fall in it (`components.labels.definitions.LABEL_TABLE` gives both):

- ``fwd_sharpe_30d`` and ``fwd_return_30d``: the returns dated in (T, T + 30 days], summed per period
  by `components.features.returns.monthly_returns` (which days fall in which window: the calendar's
  ``in_label_<h>`` flags);
- ``fwd_return_1d``: the return of the first trading day after T (the 1-day proxy label);
- ``fwd_alpha_tstat_12m``: the t-statistic of the alpha over the platform universe in the 12 periods
  after T, from the regression sums of `components.features.evidence` (the ranker's label: a year of
  market-adjusted returns is the shortest window in which skill shows; see DESIGN.md, "Skill versus
  luck").
"""

from __future__ import annotations

from datetime import date
from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from components.features.calendar import HORIZONS, LABEL_WINDOW_DAYS
from components.features.evidence import PAIR_SUMS, account_periods, factor_regression
from components.features.returns import SUMS
from components.features.stats import annualised_sharpe, compounded
from components.features.trading import KEYS
from components.labels.definitions import LABEL_TABLE
from feature_repo.feature_schema import ENTITY_KEY

MIN_LABEL_RETURNS = LABEL_TABLE["fwd_sharpe_30d"].min_returns  # of the 30-day window
ALPHA_LABEL = LABEL_TABLE["fwd_alpha_tstat_12m"]
FORWARD_PERIODS = ALPHA_LABEL.window  # the alpha label's window: the periods (months) after T


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
    mature = F.date_add("as_of", LABEL_WINDOW_DAYS) <= F.lit(last_day)
    valid = mature & (F.col("n") >= MIN_LABEL_RETURNS)
    return window_sums.join(F.broadcast(asof.select("period", "as_of")), "period").select(
        *KEYS,
        F.when(valid, annualised_sharpe(F.col("n"), F.col("sum_r"), F.col("sum_r2"))).alias("fwd_sharpe_30d"),
        F.when(valid, compounded(F.col("sum_log"))).alias("fwd_return_30d"),
    )


def next_day_label(monthly: DataFrame, asof: DataFrame) -> DataFrame:
    """Per (account, period): ``fwd_return_1d``, the return of the first trading day after T.

    Its window is one trading day by construction (the calendar's ``next_day``). It is the return of
    the account's first row of the next period when that row is dated on the first trading day after
    T and measured from a snapshot at T; null otherwise (a missing snapshot on either day would make
    it a return over other days), and at the last as-of date.
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


def forward_alpha_label(grid: DataFrame, sums: DataFrame, last_period: int) -> DataFrame:
    """Per (account, period) of the grid: ``fwd_alpha_tstat_12m``, over the `FORWARD_PERIODS` after T.

    Args:
        grid: (account_id, period) of every account and as-of date of the feature table.
        sums: The regression sums of `components.features.evidence.evidence_sums`.
        last_period: The period of the last as-of date: a label whose window reaches past it is null.
    """
    ahead = Window.partitionBy(ENTITY_KEY).orderBy("period").rangeBetween(1, FORWARD_PERIODS)
    names = [f"universe_{name}" for name in PAIR_SUMS]
    rolled = account_periods(grid, sums).select(
        *KEYS, *[F.sum(name).over(ahead).alias(f"next_{name}") for name in names]
    )
    mature = F.col("period") + FORWARD_PERIODS <= F.lit(last_period)
    valid = mature & (F.col("next_universe_n") >= ALPHA_LABEL.min_returns)
    label = rolled.select(
        *KEYS, F.when(valid, factor_regression("next", "universe")["alpha_t"]).alias("fwd_alpha_tstat_12m")
    )
    return grid.select(*KEYS).join(label, KEYS, "left")
