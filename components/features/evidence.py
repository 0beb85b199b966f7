"""Long-window evidence of skill: t-statistics of an account's mean return and alpha since inception.

Skill on a trading platform is a persistent edge over the market, and a trailing year of returns
hardly tells it from luck. The strongest evidence an account offers is the whole of its record:
the t-statistics of its mean return and of its alpha since inception grow with the square root of
the record's length for a skilled trader and stay near zero for a lucky one.

Alpha is measured twice: against the S&P 500 (what an investor could have bought instead) and
against the *platform universe*, the equal-weight index of every stock in ``market/``. Against the
S&P 500 alone, merely holding the platform's stocks earns an alpha when they beat the index, and so
does diversification (the t-statistic of a broad portfolio's alpha has a small standard error):
neither is skill. Against the universe index, only the choice among those stocks counts.

All sums are taken once per (account, period) from the daily rows (`evidence_sums`); since-inception
figures are running windows at the monthly grain. The same sums give the ranker's forward label,
the universe alpha's t-statistic over the 12 periods after T (`components.labels.forward`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from components.contract.tables import INDEX_SYMBOL
from components.features.stats import market_regression, t_statistic
from feature_repo.feature_schema import ENTITY_KEY

KEYS = [ENTITY_KEY, "period"]
MIN_EVIDENCE_RETURNS = 21  # a month of returns before a since-inception t-statistic is given
FACTORS = ("index", "universe")
PAIR_SUMS = ("n", "sum_m", "sum_r", "sum_m2", "sum_r2", "sum_rm")  # the order market_regression takes
FACTOR_SUMS = [f"{factor}_{name}" for factor in FACTORS for name in PAIR_SUMS]  # evidence_sums' columns


def universe_levels(market: DataFrame) -> DataFrame:
    """(date, universe_level): an equal-weight index of the stocks in ``market/`` (not the S&P 500).

    Each day's return is the mean of the stocks' close-to-close returns that day; the level chains
    them, so that a return over several days (an account's gap) is a ratio of two levels.
    """
    by_symbol = Window.partitionBy("symbol").orderBy("date")
    stocks = market.where(F.col("symbol") != INDEX_SYMBOL)
    growth = stocks.select(
        "date", F.try_divide(F.col("close"), F.lag("close").over(by_symbol)).alias("growth")
    ).where(F.col("growth") > 0)
    daily = growth.groupBy("date").agg(F.ln(F.avg("growth")).alias("log_growth"))
    # Every market day has a level: the first (no return yet) starts the chain at 1.
    days = stocks.select("date").distinct().join(daily, "date", "left").fillna(0.0, subset=["log_growth"])
    # One row per market day (a few thousand): a single-partition running sum is cheap.
    chained = Window.orderBy("date").rowsBetween(Window.unboundedPreceding, 0)
    return days.select("date", F.exp(F.sum("log_growth").over(chained)).alias("universe_level"))


def evidence_sums(daily: DataFrame, universe: DataFrame) -> DataFrame:
    """Per (account, period): regression sums of the daily return r on each factor's return.

    `daily` has ``account_id, period, date, previous_date, r, m`` (``m``: the S&P 500's return over
    the same days as r); the universe's return over (previous_date, date] is a ratio of its levels.
    """
    start = universe.select(
        F.col("date").alias("previous_date"), F.col("universe_level").alias("start_level")
    )
    with_universe = (
        daily.join(F.broadcast(universe), "date", "left")
        .join(F.broadcast(start), "previous_date", "left")
        .withColumn(
            "u",
            F.when(F.col("r").isNotNull(), F.try_divide(F.col("universe_level"), F.col("start_level")) - 1),
        )
    )
    return with_universe.groupBy(*KEYS).agg(
        *pair_sums(F.col("r"), F.col("m"), "index_"), *pair_sums(F.col("r"), F.col("u"), "universe_")
    )


def pair_sums(r: Column, x: Column, prefix: str) -> list[Column]:
    """The sums of a regression of r on x over the days both are known, named ``<prefix><PAIR_SUMS>``."""
    paired = r.isNotNull() & x.isNotNull()
    r, x = F.when(paired, r), F.when(paired, x)
    sums = (F.count(r), F.sum(x), F.sum(r), F.sum(x * x), F.sum(r * r), F.sum(r * x))
    return [column.alias(f"{prefix}{name}") for name, column in zip(PAIR_SUMS, sums, strict=True)]


def account_periods(grid: DataFrame, sums: DataFrame, columns: list[str] = FACTOR_SUMS) -> DataFrame:
    """The (account, period) rows of the grid and of the sums together, the sum `columns` 0 where a
    period has none.

    Windows run over these periods: a grid period may have no returns (a month-long gap), and a closed
    account's last days (after its last as-of date) still count in the labels of the as-of dates
    before it closed.
    """
    return grid.select(*KEYS).join(sums, KEYS, "full").fillna(0, subset=columns)


def factor_regression(window: str, factor: str) -> dict[str, Column]:
    """`market_regression` of the summed columns ``<window>_<factor>_<PAIR_SUMS>``."""
    return market_regression(*(F.col(f"{window}_{factor}_{name}") for name in PAIR_SUMS))


def evidence_features(grid: DataFrame, sums: DataFrame) -> DataFrame:
    """Since-inception evidence features on the account x as-of grid.

    Args:
        grid: (account_id, period) of every account and as-of date of the feature table.
        sums: `evidence_sums`.

    Returns:
        (account_id, period, sharpe_tstat_inception, alpha_tstat_inception,
        universe_alpha_tstat_inception).
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    to_date = by_account.rangeBetween(Window.unboundedPreceding, 0)
    rolled = account_periods(grid, sums).select(
        *KEYS, *[F.sum(name).over(to_date).alias(f"past_{name}") for name in FACTOR_SUMS]
    )
    n_past = F.col("past_index_n")
    evidence = rolled.select(
        *KEYS,
        t_statistic(
            n_past, F.col("past_index_sum_r"), F.col("past_index_sum_r2"), MIN_EVIDENCE_RETURNS
        ).alias("sharpe_tstat_inception"),
        F.when(n_past >= MIN_EVIDENCE_RETURNS, factor_regression("past", "index")["alpha_t"]).alias(
            "alpha_tstat_inception"
        ),
        F.when(
            F.col("past_universe_n") >= MIN_EVIDENCE_RETURNS, factor_regression("past", "universe")["alpha_t"]
        ).alias("universe_alpha_tstat_inception"),
    )
    return grid.select(*KEYS).join(evidence, KEYS, "left")
