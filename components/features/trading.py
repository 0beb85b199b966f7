"""Trading features per (account, period): activity, the edge of trades, and holdings at the as-of date.

Trades are read once and summed per (account, symbol, period) in `monthly_positions`: counts, net
quantity, traded notional, and the sums of each trade's market-relative return over the 10 trading
days that follow it. Periods are the as-of calendar's (`components.features.calendar`).

The edge of a trade: with b the last trading day on or before the trade's date (its close is the
last price the trader saw) and e = b + 10 trading days, the symbol's return from b to e minus the
S&P 500's, with the sign of the trade (+ buy, - sell). It counts at an as-of date T only once e <= T,
so the returns it measures are all known at T. e falls in the trade's own period or the next one (a
period is a calendar month: more than 10 trading days), so the sums are kept apart by that lag.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from components.contract.tables import INDEX_SECTOR, INDEX_SYMBOL
from feature_repo.feature_schema import ENTITY_KEY, MAIN_SECTOR

KEYS = [ENTITY_KEY, "period"]
POSITION_EPSILON = 1e-9  # |cumulative quantity| at or below this is a closed position
EDGE_DAYS = 10
EDGE_LAGS = (0, 1)  # periods from a trade's period to the one its 10-day window closes in
EDGE_SUMS = ("n", "sum", "sum_sq")
TOP_HOLDINGS = 3


def edge_sum_names(lag: int) -> list[str]:
    """Column names of the edge sums of trades whose window closes `lag` periods after the trade."""
    return [f"edge{lag}_{name}" for name in EDGE_SUMS]


def trade_windows(market: DataFrame, trading: DataFrame) -> DataFrame:
    """Per (symbol, base_k): the symbol's growth over the 10 trading days from trading day base_k,
    the S&P 500's over the same days, and the period the window closes in.

    Args:
        market: The clean market table (date, symbol, close).
        trading: (k, date, period) of each trading day, k counting from 0 (``trading_day_frames``).
    """
    closes = market.join(F.broadcast(trading.select("date", "k")), "date")
    start = closes.select("symbol", F.col("k").alias("base_k"), F.col("close").alias("start"))
    end = closes.select("symbol", (F.col("k") - EDGE_DAYS).alias("base_k"), F.col("close").alias("end"))
    growth = start.join(end, ["symbol", "base_k"]).select(
        "symbol", "base_k", F.try_divide(F.col("end"), F.col("start")).alias("growth")
    )
    index = growth.where(F.col("symbol") == INDEX_SYMBOL).select(
        "base_k", F.col("growth").alias("index_growth")
    )
    closing = trading.select((F.col("k") - EDGE_DAYS).alias("base_k"), F.col("period").alias("closing"))
    return growth.join(index, "base_k").join(closing, "base_k")


def edge_sums(edge: Column, lag: Column) -> list[Column]:
    """Count, sum and sum of squares of trade edges, apart for each lag of `EDGE_LAGS`."""
    columns = []
    for k in EDGE_LAGS:
        x = F.when(lag == k, edge)
        n, total, total_sq = edge_sum_names(k)
        columns += [F.count(x).alias(n), F.sum(x).alias(total), F.sum(x * x).alias(total_sq)]
    return columns


def monthly_positions(
    trades: DataFrame, days: DataFrame, base_days: DataFrame, windows: DataFrame
) -> DataFrame:
    """Per (account, symbol, period): trades, net signed quantity, notional and the trade-edge sums.

    Args:
        trades: The clean trades table.
        days: (date, period, ...) of each calendar day.
        base_days: (date, base_k): the last trading day on or before each calendar day.
        windows: From `trade_windows`.
    """
    buy, sell = F.col("side") == "buy", F.col("side") == "sell"
    signed = F.when(buy, F.col("qty")).when(sell, -F.col("qty"))
    edge = F.when(buy, 1.0).when(sell, -1.0) * (F.col("growth") - F.col("index_growth"))
    return (
        trades.withColumn("date", F.to_date("ts"))
        .join(F.broadcast(days.select("date", "period")), "date")
        .join(F.broadcast(base_days), "date", "left")
        .join(F.broadcast(windows), ["symbol", "base_k"], "left")
        .groupBy(ENTITY_KEY, "symbol", "period")
        .agg(
            F.count(F.lit(1)).alias("trades"),
            F.coalesce(F.sum(signed), F.lit(0.0)).alias("net_qty"),
            F.sum(F.col("qty") * F.col("price")).alias("notional"),
            *edge_sums(edge, F.col("closing") - F.col("period")),
        )
    )


def trade_activity(positions: DataFrame) -> DataFrame:
    """Per (account, period): trades, traded notional and trade-edge sums."""
    sums = ["trades", "notional", *[name for k in EDGE_LAGS for name in edge_sum_names(k)]]
    return positions.groupBy(*KEYS).agg(*[F.sum(name).alias(name) for name in sums])


def holdings(
    positions: DataFrame, closes: DataFrame, sectors: DataFrame, momentum: DataFrame, last_period: int
) -> DataFrame:
    """Per (account, period): what the account holds at the as-of date, by symbol and by sector.

    A position is the cumulative signed quantity of a symbol up to T, valued at T's close (absolute
    values: a short position is exposure too); it is carried over the periods without trades up to
    the next change (or the last period). The index (sector ``Index``) is a sector-diversified
    holding: it counts in every share's denominator but in no sector's numerator.

    Columns: ``n_tickers``, ``hhi`` (of position values), ``top3_share``, ``max_sector_share``,
    ``sector_count`` (stock sectors held), ``index_share``, ``sector_momentum`` (exposure-weighted
    12-1 momentum of the held symbols' sectors), ``gross_value`` (sum of position values) and
    `MAIN_SECTOR`: the sector of the most value held, the index's ``Index`` included (it is what a
    viewer filtering by sector follows), ties to the first sector name, null when nothing is valued.

    Args:
        positions: From `monthly_positions`.
        closes: (symbol, period, close) at each as-of date.
        sectors: (symbol, sector) of every symbol, from `components.features.market.symbol_sectors`.
        momentum: (sector, period, momentum), from `components.features.market.sector_momentum`.
        last_period: The period of the last as-of date.
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
    by_sector = (
        carried.select(ENTITY_KEY, "symbol", "qty", F.explode(F.sequence("period", "until")).alias("period"))
        .join(F.broadcast(closes), ["symbol", "period"], "left")
        .join(F.broadcast(sectors), "symbol", "left")
        .groupBy(*KEYS, "sector")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.count(value).alias("valued"),
            F.sum(value).alias("value"),
            F.sum(value * value).alias("value_sq"),
            # The largest holdings overall are among the largest of each sector: keep each sector's top 3.
            F.slice(F.sort_array(F.collect_list(value), asc=False), 1, TOP_HOLDINGS).alias("top"),
        )
        .join(F.broadcast(momentum), ["sector", "period"], "left")
    )
    total = F.sum("value")
    stock_sector, has_momentum = F.col("sector") != INDEX_SECTOR, F.col("momentum").isNotNull()
    top = F.slice(F.sort_array(F.flatten(F.collect_list("top")), asc=False), 1, TOP_HOLDINGS)
    top_share = F.try_divide(F.aggregate(top, F.lit(0.0), lambda acc, v: acc + v), total)
    whole_book = (F.sum("valued") <= TOP_HOLDINGS) & (total > 0)  # exactly 1, not a sum in another order
    # The least (-value, sector): the most value, and of equal values the first name; unvalued rows are null.
    most_held = F.min(F.when(F.col("value") > 0, F.struct((-F.col("value")).alias("v"), F.col("sector"))))
    return by_sector.groupBy(*KEYS).agg(
        F.sum("n").alias("n_tickers"),
        F.try_divide(F.sum("value_sq"), F.pow(total, 2)).alias("hhi"),
        F.when(whole_book, F.lit(1.0)).otherwise(top_share).alias("top3_share"),
        F.try_divide(F.coalesce(F.max(F.when(stock_sector, F.col("value"))), F.lit(0.0)), total).alias(
            "max_sector_share"
        ),
        F.count(F.when(stock_sector, F.lit(1))).alias("sector_count"),
        F.try_divide(F.coalesce(F.sum(F.when(~stock_sector, F.col("value"))), F.lit(0.0)), total).alias(
            "index_share"
        ),
        F.try_divide(
            F.sum(F.col("value") * F.col("momentum")), F.sum(F.when(has_momentum, F.col("value")))
        ).alias("sector_momentum"),
        total.alias("gross_value"),
        most_held.getField("sector").alias(MAIN_SECTOR),
    )
