"""Publishing a tiny feature table: the registry, the online store and the retrieval index it leaves."""

from __future__ import annotations

import pandas as pd
import pytest

from components.config.feast import feature_store
from components.config.settings import Settings
from components.errors import DataError
from components.store.publish import publish_features
from components.store.retrieval import build_retrieval_index
from feature_repo.definitions import FEATURE_SERVICES, ranker_v1, service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from tests.serving_world import AS_OF_DATES, make_features

N_ACCOUNTS = 12


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Settings, pd.DataFrame, dict]:
    """A data root with the features of 12 accounts at two month-ends, published."""
    settings = Settings(data_root=tmp_path_factory.mktemp("publish"), min_trades=10)
    features = make_features(N_ACCOUNTS)
    settings.layout.features.mkdir(parents=True)
    features.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    return settings, features, publish_features(settings.layout, settings)


def test_publish_reports_the_latest_date_and_the_candidates(published):
    settings, _, result = published
    index = pd.read_parquet(settings.layout.retrieval_index)
    assert result == {
        "latest_as_of": str(AS_OF_DATES[-1].date()),
        "candidates": len(index),
        "online_accounts": N_ACCOUNTS,
        "online_written": N_ACCOUNTS,
    }


def test_every_feature_service_is_registered_with_its_features(published):
    settings, _, _ = published
    store = feature_store(settings)
    for service in FEATURE_SERVICES:
        assert service_features(store.get_feature_service(service.name)) == service_features(service)


def test_the_registered_source_reads_this_data_root(published):
    settings, _, _ = published
    [view] = feature_store(settings).list_feature_views()
    assert view.batch_source.path == str(settings.layout.features)


def test_the_online_store_holds_the_latest_values(published):
    settings, features, _ = published
    latest = features[features[EVENT_TIMESTAMP] == AS_OF_DATES[-1]].set_index(ENTITY_KEY)
    store = feature_store(settings)
    online = store.get_online_features(
        features=store.get_feature_service(ranker_v1.name),
        entity_rows=[{ENTITY_KEY: account} for account in latest.index],
    ).to_df()
    names = service_features(ranker_v1)
    pd.testing.assert_frame_equal(
        online.set_index(ENTITY_KEY)[names], latest[names], check_dtype=False, check_names=False
    )


def test_the_retrieval_index_is_built_from_the_latest_date(published):
    settings, features, _ = published
    latest = features[features[EVENT_TIMESTAMP] == AS_OF_DATES[-1]]
    written = pd.read_parquet(settings.layout.retrieval_index)
    pd.testing.assert_frame_equal(written, build_retrieval_index(latest, settings), check_dtype=False)


def test_publishing_without_a_feature_table_is_a_data_error(tmp_path):
    settings = Settings(data_root=tmp_path)
    with pytest.raises(DataError, match=r"no table at .*features: run the feature job first"):
        publish_features(settings.layout, settings)
