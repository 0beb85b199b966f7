"""Walk-forward folds over monthly as-of dates, purged and embargoed by the label horizon."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Fold:
    """Train on `train_dates`, test on `test_date` (all as-of dates)."""

    train_dates: tuple[pd.Timestamp, ...]
    test_date: pd.Timestamp


def walk_forward_folds(
    as_of_dates: list[pd.Timestamp] | pd.DatetimeIndex,
    *,
    train_months: int,
    horizon_days: int,
    embargo_days: int | None = None,
    max_folds: int | None = None,
) -> list[Fold]:
    """Sliding folds: each test date trains on the `train_months` latest dates that are safe for it.

    A train date T is safe for test date D when its label window (T, T + horizon] ends at least
    `embargo_days` (default: the horizon) before D: its label is purged of any overlap with the test
    period and an embargo separates them, so no information from after D reaches training.

    Args:
        as_of_dates: Dates that have labels (any order, duplicates ignored).
        train_months: How many as-of dates each fold trains on.
        horizon_days: Label horizon in calendar days.
        embargo_days: Gap after the label window; defaults to `horizon_days`.
        max_folds: Keep only the latest folds.

    Example:
        >>> dates = pd.date_range("2020-01-31", periods=10, freq="ME")
        >>> fold = walk_forward_folds(dates, train_months=6, horizon_days=30)[0]
        >>> fold.test_date.date(), fold.train_dates[-1].date()
        (datetime.date(2020, 8, 31), datetime.date(2020, 6, 30))
    """
    dates = sorted(set(pd.to_datetime(list(as_of_dates))))
    gap = pd.Timedelta(days=horizon_days + (horizon_days if embargo_days is None else embargo_days))
    folds = []
    for test_date in dates:
        safe = [d for d in dates if d + gap <= test_date]
        if len(safe) >= train_months:
            folds.append(Fold(tuple(safe[-train_months:]), test_date))
    return folds[-max_folds:] if max_folds else folds
