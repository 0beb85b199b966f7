"""Purged combinatorial cross-validation over as-of dates (skfolio's `CombinatorialPurgedCV`).

Walk-forward answers "how would it have done, deployed month by month"; CPCV tests the same
learner on many train/test recombinations of the history, purged and embargoed by the label
horizon, so one lucky stretch of months cannot carry the verdict.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from skfolio.model_selection import CombinatorialPurgedCV

from components.config.settings import Settings
from components.ranking.learner import fit_booster, fold_metrics, horizon_days, predict
from feature_repo.feature_schema import EVENT_TIMESTAMP

N_FOLDS, N_TEST_FOLDS = 4, 2  # 6 splits: enough recombinations at a cost the laptop run can pay


def purge_and_embargo(n_dates: int, horizon_days: int) -> tuple[int, int] | None:
    """Purge and embargo in as-of dates (months): the label horizon each, where the groups allow.

    skfolio needs purge + embargo below a group's size. A 12-month label on a few years of monthly
    dates leaves no room for a 12-month embargo too, so the embargo shrinks to what fits (the purge,
    which is what keeps overlapping labels apart, never does); None when even the purge does not fit.
    """
    months = max(1, math.ceil(horizon_days / 30))
    room = n_dates // N_FOLDS - 2 - months  # skfolio: purge + embargo < group size - 1
    return None if room < 0 else (months, min(months, room))


def date_splits(dates: list[pd.Timestamp], horizon_days: int) -> list[tuple[list, list]]:
    """(train dates, test dates) per CPCV split, purged and embargoed by `purge_and_embargo`.

    Example:
        >>> splits = date_splits(list(pd.date_range("2020-01-31", periods=24, freq="ME")), 30)
        >>> len(splits), all(set(train).isdisjoint(test) for train, test in splits)
        (6, True)
    """
    sizes = purge_and_embargo(len(dates), horizon_days)
    if sizes is None:
        return []
    cv = CombinatorialPurgedCV(
        n_folds=N_FOLDS, n_test_folds=N_TEST_FOLDS, purged_size=sizes[0], embargo_size=sizes[1]
    )
    index = np.arange(len(dates)).reshape(-1, 1)
    return [
        ([dates[i] for i in train], [dates[i] for group in test for i in group])
        for train, test in cv.split(index)
    ]


def cpcv_metrics(frame: pd.DataFrame, settings: Settings, objective: str) -> pd.DataFrame:
    """Mean metrics over the test dates of each CPCV split: one row per split that keeps at least
    `train_months` training dates after purge and embargo (none if the history is too short)."""
    dates = sorted(
        pd.Timestamp(d) for d in frame.loc[frame[settings.label].notna(), EVENT_TIMESTAMP].unique()
    )
    if len(dates) < N_FOLDS:
        return pd.DataFrame()  # too short a history to recombine: the walk-forward stands alone
    rows = []
    for number, (train_dates, test_dates) in enumerate(date_splits(dates, horizon_days(settings))):
        if len(train_dates) < settings.train_months:
            continue  # purge and embargo left too little history before or after the test groups
        booster = fit_booster(
            frame[frame[EVENT_TIMESTAMP].isin(train_dates)], settings, objective, settings.label
        )
        per_date = []
        for test_date in test_dates:
            test = frame[frame[EVENT_TIMESTAMP] == test_date]
            per_date.append(fold_metrics(test, {"model": predict(booster, test)}, settings))
        rows.append({"split": number} | pd.DataFrame(per_date).mean().to_dict())
    return pd.DataFrame(rows)
