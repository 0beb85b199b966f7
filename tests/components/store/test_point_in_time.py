"""The as-of merge of file-backed views equals Feast's own point-in-time join, edge cases included.

Both run here for real: Feast's `get_historical_features` on its file offline store (the reference,
`feast_io.feast_historical_features`) and `components.store.point_in_time` on the same entity rows.
"""

import numpy as np
import pandas as pd
import pytest

from components.config.feast import feature_store
from components.store import feast_io
from components.store.point_in_time import point_in_time_join
from feature_repo.definitions import account_monthly_features, ranker_v1, training_v1
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

TTL_DAYS = account_monthly_features.ttl.days
# Days after a feature row: the same row, later in its month, at and just past the ttl, beyond any
# row; and before the first row.
SHIFTS_DAYS = (0, 1, 10, TTL_DAYS - 1, TTL_DAYS, TTL_DAYS + 1, 80, -3)


@pytest.fixture(scope="module")
def entity_rows(world) -> pd.DataFrame:
    """The world's account-dates shifted in time by `SHIFTS_DAYS`, plus an account the store never saw,
    each with a label column to carry through."""
    keys = world.features[[ENTITY_KEY, EVENT_TIMESTAMP]]
    shifted = [
        keys.assign(**{EVENT_TIMESTAMP: keys[EVENT_TIMESTAMP] + pd.Timedelta(days=d)}) for d in SHIFTS_DAYS
    ]
    one_account = keys[keys[ENTITY_KEY] == keys[ENTITY_KEY].iloc[0]]
    stranger = one_account.head(3).assign(**{ENTITY_KEY: "a-never-seen"})
    rows = pd.concat([*shifted, stranger], ignore_index=True).drop_duplicates([ENTITY_KEY, EVENT_TIMESTAMP])
    return rows.sample(frac=1.0, random_state=3).assign(label=np.arange(len(rows)))


def by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([EVENT_TIMESTAMP, ENTITY_KEY]).reset_index(drop=True)


@pytest.mark.parametrize("service", [training_v1, ranker_v1], ids=lambda service: service.name)
def test_the_as_of_merge_equals_feasts_point_in_time_join(world, entity_rows, service):
    store = feature_store(world.settings)
    registered = store.get_feature_service(service.name)
    fast = point_in_time_join(store, entity_rows, registered)
    reference = feast_io.feast_historical_features(store, entity_rows, registered)
    pd.testing.assert_frame_equal(by_key(fast), by_key(reference)[fast.columns])
    # The cases the rows were built for are all there: rows past the ttl were dropped (as Feast does
    # for an account it has), the unseen account kept with nulls, in-between rows filled.
    assert len(fast) < len(entity_rows)
    unseen = fast[fast[ENTITY_KEY] == "a-never-seen"]
    assert len(unseen) > 0 and unseen.drop(columns=[ENTITY_KEY, EVENT_TIMESTAMP, "label"]).isna().all().all()
    assert fast[EVENT_TIMESTAMP].dt.day.nunique() > world.features[EVENT_TIMESTAMP].dt.day.nunique()


def test_the_as_of_merge_keeps_the_callers_row_order(world, entity_rows):
    store = feature_store(world.settings)
    fast = point_in_time_join(store, entity_rows, store.get_feature_service(ranker_v1.name))
    assert not fast[EVENT_TIMESTAMP].is_monotonic_increasing  # the rows came shuffled in time ...
    assert fast["label"].is_monotonic_increasing  # ... and leave in the order they came


def test_a_view_that_is_not_file_backed_falls_back_to_feasts_join(world, monkeypatch):
    store = feature_store(world.settings)
    registered = store.get_feature_service(ranker_v1.name)
    rows = world.features[[ENTITY_KEY, EVENT_TIMESTAMP]].head(20)
    expected = feast_io.historical_features(store, rows, ranker_v1.name)
    monkeypatch.setattr("components.store.point_in_time.joinable_views", lambda store, service: None)
    assert point_in_time_join(store, rows, registered) is None
    calls = []
    feast_join = feast_io.feast_historical_features
    monkeypatch.setattr(feast_io, "feast_historical_features", lambda *a: calls.append(1) or feast_join(*a))
    pd.testing.assert_frame_equal(feast_io.historical_features(store, rows, ranker_v1.name), expected)
    assert calls == [1]
