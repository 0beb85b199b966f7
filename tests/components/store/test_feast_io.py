"""Training sets through Feast's point-in-time join: chunking by as-of date changes nothing."""

import pandas as pd

from components.store import feast_io
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES
from feature_repo.store import feature_store


def test_chunked_point_in_time_join_equals_one_join(world, monkeypatch):
    store = feature_store(world.settings)
    rows = world.features[[ENTITY_KEY, EVENT_TIMESTAMP]].assign(label=range(len(world.features)))
    whole = feast_io.historical_features(store, rows, world.settings.feature_service)
    monkeypatch.setattr(feast_io, "HISTORICAL_CHUNK_ROWS", 60)  # about one as-of date per join
    chunks = feast_io.date_chunks(rows[EVENT_TIMESTAMP], 60)
    assert len(chunks) == rows[EVENT_TIMESTAMP].nunique() > 1
    chunked = feast_io.historical_features(store, rows, world.settings.feature_service)
    pd.testing.assert_frame_equal(chunked, whole)
    published = world.features.assign(
        **{EVENT_TIMESTAMP: world.features[EVENT_TIMESTAMP].astype("datetime64[ns]")}
    )
    expected = published.set_index([ENTITY_KEY, EVENT_TIMESTAMP])[list(FEATURES)]
    got = chunked.set_index([ENTITY_KEY, EVENT_TIMESTAMP])[list(FEATURES)]
    pd.testing.assert_frame_equal(got.loc[expected.index], expected, check_dtype=False)
