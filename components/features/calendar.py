"""The as-of calendar of the feature job: as-of dates, periods, and the days each label window covers.

As-of dates are the last trading day of each calendar month of the market calendar (and the last
trading day of the data when it ends mid-month). Every daily row belongs to the *period* of the first
as-of date on or after it; a period is named by the month index ``year * 12 + month - 1`` of its
as-of date, so "the trailing 12 months at T" are the periods ``p - 11 .. p``. The small frames built
here (one row per day or per as-of date) are broadcast into the joins of the job.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from components.errors import DataError
from components.features.stats import TAIL_DIVISOR
from components.labels.definitions import LABEL_TABLE

TRAILING_MONTHS = 12
# The window (T, T + days] of the 30-day labels, from the label table (fwd_return_30d shares it:
# both are computed from the same sums of the window's returns).
LABEL_WINDOW_DAYS = LABEL_TABLE["fwd_sharpe_30d"].window
# Month-end as-of dates lie at least 26 days apart (Jan 31 -> Feb 26), so a daily return can fall in
# the label windows of the previous 1 + (days - 1) // 26 as-of dates: the previous two for 30 days.
MIN_ASOF_GAP_DAYS = 26
HORIZONS = tuple(range(1, 2 + (LABEL_WINDOW_DAYS - 1) // MIN_ASOF_GAP_DAYS))


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
        DataError: There are no snapshots, or no market days in their span.
    """
    span = tables["snapshots"].agg(F.min("date").alias("start"), F.max("date").alias("end")).first()
    if span["end"] is None:
        raise DataError("clean snapshots are empty: there is nothing to compute features from")
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
        raise DataError(f"the market calendar has no trading day between {span['start']} and {span['end']}")
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
    horizon, month_start = timedelta(days=LABEL_WINDOW_DAYS), calendar.dates[0].replace(day=1)
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
