"""Post-trade evidence: what each trade's timing reveals once the prices that followed it are known.

A trader with information about the next returns of its stocks buys before they beat the others and
sells before they lag; a lucky or a passive one does not. For each trade and horizon h of
`HORIZONS` (trading days): with b the last trading day on or before the trade's date (its close is
the last price the trader saw) and e = b + h trading days, the trade's *post-trade return* is the
traded symbol's return from b to e minus the equal-weight platform universe's over the same days
(`components.features.evidence.universe_levels`: the choice among the platform's stocks counts,
the market's move does not), with the sign of the trade (+ buy, - sell).

Point in time: a trade counts at an as-of date T only once its window has closed, e <= T. So the
sums are kept per (account, *closing* period), the period of e, and a window at T adds up the closing
periods up to T's: since inception, and over the trailing 12 periods (the trades whose window closed
in the last 12 months). A window that would end after the market table's last trading day never
closes and never counts. Per horizon the features are the mean post-trade return and its
t-statistic, mean / sd x sqrt(n), both null below `MIN_POST_TRADES` closed windows. Windows of
trades close in time overlap, so the t-statistic overstates the evidence of a frequent trader: it
orders accounts, it is not a p-value.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from components.features.calendar import TRAILING_MONTHS
from components.features.evidence import account_periods
from components.features.stats import mean, t_statistic
from components.features.trading import KEYS
from feature_repo.feature_schema import ENTITY_KEY, POST_TRADE_HORIZONS, post_trade_names

HORIZONS = POST_TRADE_HORIZONS  # trading days after the trade
MIN_POST_TRADES = 5  # closed windows before a mean or t-statistic is given (as for trade_edge_tstat_12m)
SUMS = ("n", "sum", "sum_sq")
WINDOW_MONTHS = {"inception": None, "12m": TRAILING_MONTHS}  # periods of each window (None: all so far)


def sum_names(horizon: int) -> list[str]:
    """Column names of the count, sum and sum of squares of the post-trade returns at `horizon`."""
    return [f"post{horizon}_{name}" for name in SUMS]


POST_TRADE_FEATURES = tuple(name for h in HORIZONS for w in WINDOW_MONTHS for name in post_trade_names(h, w))


def post_trade_windows(market: DataFrame, trading: DataFrame, universe: DataFrame) -> DataFrame:
    """Per (symbol, base_k, horizon): the symbol's return over `horizon` trading days from trading day
    base_k minus the universe's over the same days (``relative``), and the period the window closes in
    (``closing``). A window whose last day is not in `trading` has no row.

    Args:
        market: The clean market table (date, symbol, close).
        trading: (k, date, period) of each trading day, k counting from 0
            (`components.features.calendar.trading_day_frames`).
        universe: (date, universe_level), from `components.features.evidence.universe_levels`.
    """
    # Per (symbol, trading day k): the close, the universe level and the period (symbols x days: small).
    days = universe.join(F.broadcast(trading), "date").select("date", "k", "period", "universe_level")
    daily = market.join(F.broadcast(days), "date").select("symbol", "k", "period", "close", "universe_level")
    start = daily.select(
        "symbol",
        F.col("k").alias("base_k"),
        F.col("close").alias("start_close"),
        F.col("universe_level").alias("start_level"),
        F.explode(F.array(*[F.lit(h) for h in HORIZONS])).alias("horizon"),
    ).withColumn("end_k", F.col("base_k") + F.col("horizon"))
    end = daily.select(
        "symbol",
        F.col("k").alias("end_k"),
        F.col("close").alias("end_close"),
        F.col("universe_level").alias("end_level"),
        F.col("period").alias("closing"),
    )
    relative = F.try_divide(F.col("end_close"), F.col("start_close")) - F.try_divide(
        F.col("end_level"), F.col("start_level")
    )
    return start.join(end, ["symbol", "end_k"]).select(
        "symbol", "base_k", "horizon", relative.alias("relative"), "closing"
    )


def post_trade_sums(trades: DataFrame, base_days: DataFrame, windows: DataFrame) -> DataFrame:
    """Per (account, period): count, sum and sum of squares of the signed post-trade returns of the
    trades whose window closes in that period, apart for each horizon (`sum_names`).

    Args:
        trades: The clean trades table.
        base_days: (date, base_k): the last trading day on or before each calendar day
            (`components.features.calendar.trading_day_frames`).
        windows: From `post_trade_windows`.
    """
    sign = F.when(F.col("side") == "buy", 1.0).when(F.col("side") == "sell", -1.0)
    signed = sign * F.col("relative")
    sums = []
    for h in HORIZONS:
        x = F.when(F.col("horizon") == h, signed)
        n, total, total_sq = sum_names(h)
        sums += [F.count(x).alias(n), F.sum(x).alias(total), F.sum(x * x).alias(total_sq)]
    return (
        trades.select(ENTITY_KEY, "symbol", "side", F.to_date("ts").alias("date"))
        .join(F.broadcast(base_days), "date")
        .join(F.broadcast(windows), ["symbol", "base_k"])
        .groupBy(ENTITY_KEY, F.col("closing").alias("period"))
        .agg(*sums)
    )


def post_trade_features(grid: DataFrame, sums: DataFrame) -> DataFrame:
    """The mean post-trade return and its t-statistic per horizon and window, on the account x as-of grid.

    Args:
        grid: (account_id, period) of every account and as-of date of the feature table.
        sums: `post_trade_sums`.

    Returns:
        (account_id, period, *POST_TRADE_FEATURES).
    """
    by_account = Window.partitionBy(ENTITY_KEY).orderBy("period")
    columns = [name for h in HORIZONS for name in sum_names(h)]
    spans = {
        window: by_account.rangeBetween(Window.unboundedPreceding if months is None else -(months - 1), 0)
        for window, months in WINDOW_MONTHS.items()
    }
    rolled = account_periods(grid, sums, columns).select(
        *KEYS,
        *[
            F.sum(name).over(span).alias(f"{window}_{name}")
            for window, span in spans.items()
            for name in columns
        ],
    )
    features: list[Column] = []
    for h in HORIZONS:
        for window in WINDOW_MONTHS:
            n, total, total_sq = (F.col(f"{window}_{name}") for name in sum_names(h))
            mean_name, tstat_name = post_trade_names(h, window)
            features += [
                F.when(n >= MIN_POST_TRADES, mean(n, total)).alias(mean_name),
                t_statistic(n, total, total_sq, MIN_POST_TRADES).alias(tstat_name),
            ]
    return grid.select(*KEYS).join(rolled.select(*KEYS, *features), KEYS, "left")
