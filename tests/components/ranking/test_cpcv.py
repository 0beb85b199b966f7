"""Purged combinatorial CV over as-of dates."""

import pandas as pd

from components.ranking.cpcv import N_FOLDS, date_splits

DATES = list(pd.date_range("2019-01-31", periods=24, freq="ME"))


def test_train_and_test_dates_never_overlap_and_every_date_is_tested():
    splits = date_splits(DATES, horizon_days=30)
    assert all(set(train).isdisjoint(test) for train, test in splits)
    assert set().union(*(set(test) for _, test in splits)) == set(DATES)


def test_dates_next_to_a_test_block_are_purged_and_embargoed():
    for train, test in date_splits(DATES, horizon_days=30):
        for date in test:
            position = DATES.index(date)
            neighbours = {DATES[i] for i in (position - 1, position + 1) if 0 <= i < len(DATES)}
            assert neighbours.isdisjoint(train)


def test_longer_horizon_purges_more():
    short = sum(len(train) for train, _ in date_splits(DATES, horizon_days=30))
    long = sum(len(train) for train, _ in date_splits(DATES, horizon_days=60))
    assert long < short


def test_split_count():
    assert len(date_splits(DATES, horizon_days=30)) == 6 and N_FOLDS == 4
