"""Which period and which label windows each day belongs to (pure Python, no Spark)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from components.features.calendar import HORIZONS, AsOfCalendar, day_rows, month_period, tail_length

JAN, FEB, MAR = date(2021, 1, 29), date(2021, 2, 26), date(2021, 3, 31)
CALENDAR = AsOfCalendar([JAN, FEB, MAR], first_day=date(2020, 12, 30))


def rows_by_day() -> dict[date, tuple[int, bool, bool]]:
    return {day: (period, *flags) for day, period, *flags in day_rows(CALENDAR)}


def test_month_period_counts_months():
    assert month_period(date(2021, 1, 29)) == 2021 * 12
    assert month_period(date(2021, 2, 1)) - month_period(date(2020, 2, 29)) == 12


def test_a_day_belongs_to_the_first_as_of_date_on_or_after_it():
    rows = rows_by_day()
    assert rows[JAN][0] == month_period(JAN)
    assert rows[date(2021, 1, 30)][0] == month_period(FEB)  # a Saturday after JAN's last trading day
    assert rows[date(2021, 2, 27)][0] == month_period(MAR)
    assert max(rows) == MAR


def test_days_before_the_first_as_of_month_keep_their_own_month():
    rows = rows_by_day()
    assert min(rows) == date(2020, 12, 30)
    assert rows[date(2020, 12, 31)] == (month_period(date(2020, 12, 31)), False, False)


def test_label_windows_are_the_30_days_after_each_of_the_two_previous_as_of_dates():
    assert HORIZONS == (1, 2)  # month-end as-of dates: a 30-day window reaches two periods at most
    rows = rows_by_day()
    assert rows[JAN][1:] == (False, False)  # the as-of day itself is in no window of its own
    assert rows[date(2021, 1, 30)][1:] == (True, False)  # (JAN, JAN + 30 days]
    assert rows[date(2021, 2, 27)][1:] == (True, True)  # in (FEB, FEB + 30] and in (JAN, JAN + 30]
    assert rows[date(2021, 3, 1)][1:] == (True, False)  # JAN + 30 days is Feb 28
    assert rows[date(2021, 3, 28)][1:] == (True, False)  # FEB + 30 days
    assert rows[date(2021, 3, 29)][1:] == (False, False)


def test_each_period_keeps_enough_returns_for_the_worst_twentieth_of_any_12_month_window():
    trading_days = [d.date() for d in pd.bdate_range("2020-01-01", "2021-12-31")]  # 262 in 2020
    calendar = AsOfCalendar([date(2021, 12, 31)], trading_days=trading_days)
    assert tail_length(calendar) == 14  # ceil(262 / 20)
    assert tail_length(AsOfCalendar([date(2021, 12, 31)], trading_days=trading_days[:20])) == 1


def test_the_next_trading_day_is_strictly_after():
    calendar = AsOfCalendar([JAN, FEB], trading_days=[JAN, date(2021, 2, 1), FEB])
    assert calendar.next_trading_day(JAN) == date(2021, 2, 1)
    assert calendar.next_trading_day(date(2021, 1, 30)) == date(2021, 2, 1)
    assert calendar.next_trading_day(FEB) is None
