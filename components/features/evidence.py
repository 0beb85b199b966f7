"""Long-window evidence of skill, and the forward label that teaches the ranker to read it.

Skill on a trading platform is a persistent edge over the market, and a trailing year of returns
hardly tells it from luck. The strongest evidence an account offers is the whole of its record:
the t-statistics of its mean return and of its alpha since inception grow with the square root of
the record's length for a skilled trader and stay near zero for a lucky one.

Alpha is measured twice: against the S&P 500 (what an investor could have bought instead) and
against the *platform universe*, the equal-weight index of every stock in ``market/``. Against the
S&P 500 alone, merely holding the platform's stocks earns an alpha when they beat the index, and so
does diversification (the t-statistic of a broad portfolio's alpha has a small standard error):
neither is skill. Against the universe index, only the choice among those stocks counts.

The forward label ``fwd_alpha_tstat_12m`` is that universe alpha's t-statistic over the 12 periods
after the as-of date. A month is far too short to see an edge (the 30-day Sharpe ratio has a
standard error near 3.5); a year of market-adjusted, risk-scaled returns is the shortest window in
which it shows (see DESIGN.md, "Skill versus luck"). The label matures 12 months after T, so the
walk-forward purges and embargoes it by that horizon.

All sums are taken once per (account, period) from the daily rows; since-inception and forward
figures are running and leading windows at the monthly grain.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from components.contract.tables import INDEX_SYMBOL
from components.features.stats import market_regression, t_statistic
from feature_repo.feature_schema import ENTITY_KEY

KEYS = [ENTITY_KEY, "period"]
FORWARD_PERIODS = 12  # the label's window: the 12 periods (months) after the as-of date
MIN_EVIDENCE_RETURNS = 21  # a month of returns before a since-inception t-statistic is given
MIN_LABEL_RETURNS = 21  # an account that closes within a month of T has no label
FACTORS = ("index", "universe")
PAIR_SUMS = ("n", "sum_m", "sum_r", "sum_m2", "sum_r2", "sum_rm")  # the order market_regression takes


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


def evidence_features(grid: DataFrame, sums: DataFrame, last_period: int) -> DataFrame:
    """Since-inception evidence features and the forward 12-month label on the account x as-of grid.

    Args:
        grid: (account_id, period) of every account and as-of date of the feature table.
        sums: `evidence_sums`.
        last_period: The period of the last as-of date: a label whose window reaches past it is null.

    Returns:
        (account_id, period, sharpe_tstat_inception, alpha_tstat_inception,
        universe_alpha_tstat_inception, fwd_alpha_tstat_12m).
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    to_date = by_account.rangeBetween(Window.unboundedPreceding, 0)
    ahead = by_account.rangeBetween(1, FORWARD_PERIODS)
    names = [f"{factor}_{name}" for factor in FACTORS for name in PAIR_SUMS]
    # Windows run over the periods of the grid and of the sums together: a grid period may have no
    # returns (a month-long gap), and a closed account's last days (after its last as-of date) still
    # count in the labels of the as-of dates before it closed.
    periods = grid.select(*KEYS).join(sums, KEYS, "full").fillna(0, subset=names)
    rolled = periods.select(
        *KEYS,
        *[F.sum(name).over(to_date).alias(f"past_{name}") for name in names],
        *[F.sum(name).over(ahead).alias(f"next_{name}") for name in names],
    )

    def regression(when: str, factor: str) -> dict[str, Column]:
        return market_regression(*(F.col(f"{when}_{factor}_{name}") for name in PAIR_SUMS))

    n_past, n_next = F.col("past_index_n"), F.col("next_universe_n")
    mature = F.col("period") + FORWARD_PERIODS <= F.lit(last_period)
    evidence = rolled.select(
        *KEYS,
        t_statistic(
            n_past, F.col("past_index_sum_r"), F.col("past_index_sum_r2"), MIN_EVIDENCE_RETURNS
        ).alias("sharpe_tstat_inception"),
        F.when(n_past >= MIN_EVIDENCE_RETURNS, regression("past", "index")["alpha_t"]).alias(
            "alpha_tstat_inception"
        ),
        F.when(
            F.col("past_universe_n") >= MIN_EVIDENCE_RETURNS, regression("past", "universe")["alpha_t"]
        ).alias("universe_alpha_tstat_inception"),
        F.when(mature & (n_next >= MIN_LABEL_RETURNS), regression("next", "universe")["alpha_t"]).alias(
            "fwd_alpha_tstat_12m"
        ),
    )
    return grid.select(*KEYS).join(evidence, KEYS, "left")
