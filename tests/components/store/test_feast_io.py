"""Training sets through Feast's point-in-time join: chunking by as-of date changes nothing."""

import pandas as pd
import pytest

from components.config.feast import feature_store
from components.errors import DataError
from components.store import feast_io
from feature_repo.definitions import ranker_v1, service_features, training_v1
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES


@pytest.fixture(scope="module")
def rows(world) -> pd.DataFrame:
    """Every (account, as-of date) of the world, with a label column to carry through."""
    return world.features[[ENTITY_KEY, EVENT_TIMESTAMP]].assign(label=range(len(world.features)))


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Feast returns the rows of a join in an order of its own."""
    return frame.sort_values([EVENT_TIMESTAMP, ENTITY_KEY]).reset_index(drop=True)


def test_chunked_point_in_time_join_equals_one_join(world, rows, monkeypatch):
    store = feature_store(world.settings)
    service = store.get_feature_service(training_v1.name)
    whole = feast_io.feast_historical_features(store, rows, service)
    monkeypatch.setattr(feast_io, "HISTORICAL_CHUNK_ROWS", 60)  # about one as-of date per join
    chunks = feast_io.date_chunks(rows[EVENT_TIMESTAMP], 60)
    assert len(chunks) == rows[EVENT_TIMESTAMP].nunique() > 1
    chunked = sorted_rows(feast_io.feast_historical_features(store, rows, service))
    pd.testing.assert_frame_equal(chunked, sorted_rows(whole))
    # What training reads (the as-of merge of the file-backed view) is the same join.
    joined = feast_io.historical_features(store, rows, training_v1.name)
    pd.testing.assert_frame_equal(joined, chunked)
    published = world.features.assign(
        **{EVENT_TIMESTAMP: world.features[EVENT_TIMESTAMP].astype("datetime64[ns]")}
    )
    expected = published.set_index([ENTITY_KEY, EVENT_TIMESTAMP])[list(FEATURES)]
    got = chunked.set_index([ENTITY_KEY, EVENT_TIMESTAMP])[list(FEATURES)]
    pd.testing.assert_frame_equal(got.loc[expected.index], expected, check_dtype=False)


def test_a_service_returns_its_own_features_and_the_carried_columns(world, rows):
    frame = feast_io.historical_features(feature_store(world.settings), rows, ranker_v1.name)
    assert list(frame.columns) == [ENTITY_KEY, EVENT_TIMESTAMP, "label", *service_features(ranker_v1)]


def test_a_service_that_returns_less_than_it_declares_is_a_data_error(world, rows, monkeypatch):
    store = feature_store(world.settings)
    registered = store.get_feature_service(ranker_v1.name)
    monkeypatch.setattr(
        feast_io, "service_features", lambda service: [*service_features(registered), "ghost"]
    )
    with pytest.raises(
        DataError, match=r"'ranker_v1' did not return \['ghost'\]: publish the features again"
    ):
        feast_io.historical_features(store, rows.head(5), ranker_v1.name)
