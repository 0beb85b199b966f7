"""Market context per period: the index's volatility, trend and drawdown, and sector momentum.

Periods are the as-of calendar's (`components.features.calendar`): the month index of an as-of date T, with
every day belonging to the first as-of date on or after it. Closes "at T" are the last close of a
symbol on or before T; a figure that needs a close the market table does not have is null.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from components.contract.tables import INDEX_SYMBOL
from components.features.stats import ANNUALISE

MARKET_VOL_DAYS = 21
TREND_MONTHS = 12
MOMENTUM_MONTHS = (1, 12)  # 12-1 momentum: from the close 12 as-of dates back to the one a month back
UNKNOWN_SECTOR = "unknown:"  # prefix of the sector of a symbol the sectors table lacks: one of its own


def closes_at_asof(market: DataFrame, days: DataFrame) -> DataFrame:
    """Per (symbol, period): the last close on or before the period's as-of date."""
    return (
        market.join(F.broadcast(days.select("date", "period")), "date")
        .groupBy("symbol", "period")
        .agg(F.max_by("close", "date").alias("close"))
    )


def period_return(closes: DataFrame, later: int, earlier: int, name: str) -> DataFrame:
    """Per (symbol, period p): ``close(p - later) / close(p - earlier) - 1`` from `closes_at_asof` rows."""
    at = {
        lag: closes.select("symbol", (F.col("period") + lag).alias("period"), F.col("close").alias(f"c{lag}"))
        for lag in (later, earlier)
    }
    return (
        at[later]
        .join(at[earlier], ["symbol", "period"])
        .select("symbol", "period", (F.try_divide(F.col(f"c{later}"), F.col(f"c{earlier}")) - 1).alias(name))
    )


def symbol_sectors(closes: DataFrame, sectors: DataFrame) -> DataFrame:
    """(symbol, sector) for every symbol with a close; a symbol without a sector is a sector of its own."""
    return (
        closes.select("symbol")
        .distinct()
        .join(F.broadcast(sectors), "symbol", "left")
        .select("symbol", F.coalesce("sector", F.concat(F.lit(UNKNOWN_SECTOR), "symbol")).alias("sector"))
    )


def sector_momentum(closes: DataFrame, sectors: DataFrame) -> DataFrame:
    """Per (sector, period): the mean 12-1 month momentum of the sector's symbols (the index: its own)."""
    later, earlier = MOMENTUM_MONTHS
    return (
        period_return(closes, later, earlier, "momentum")
        .join(F.broadcast(sectors), "symbol")
        .groupBy("sector", "period")
        .agg(F.avg("momentum").alias("momentum"))
    )


def market_context(market: DataFrame, days: DataFrame, closes: DataFrame) -> DataFrame:
    """Per period: the S&P 500's 21-day realised volatility, 12-month return and drawdown at T.

    - ``market_vol_21d``: annualised sample sd of the index's last 21 daily returns (a VIX stand-in);
    - ``spx_trend_12m``: the index's return from the as-of date 12 months back to T;
    - ``spx_drawdown``: the index's fall from its highest close in the market table up to T (>= 0).
    """
    by_date = Window.partitionBy("symbol").orderBy("date")
    last_days = by_date.rowsBetween(-(MARKET_VOL_DAYS - 1), 0)
    volatility = F.when(
        F.count("r").over(last_days) >= MARKET_VOL_DAYS, F.stddev_samp("r").over(last_days) * ANNUALISE
    )
    peak = F.max("close").over(by_date.rowsBetween(Window.unboundedPreceding, 0))
    daily = (
        market.where(F.col("symbol") == INDEX_SYMBOL)
        .withColumn("r", F.try_divide(F.col("close"), F.lag("close").over(by_date)) - 1)
        .select("date", volatility.alias("volatility"), (1 - F.col("close") / peak).alias("drawdown"))
        .join(F.broadcast(days.select("date", "period")), "date")
        .groupBy("period")
        .agg(
            F.max_by("volatility", "date").alias("market_vol_21d"),
            F.max_by("drawdown", "date").alias("spx_drawdown"),
        )
    )
    trend = period_return(closes.where(F.col("symbol") == INDEX_SYMBOL), 0, TREND_MONTHS, "spx_trend_12m")
    return daily.join(trend.drop("symbol"), "period", "left")
