"""Settings -> Feast: the store of the settings, and the services of each feature set."""

from __future__ import annotations

import pytest

from components.config.feast import feature_store, feed_service, input_service
from components.config.settings import Settings
from components.errors import DataError
from feature_repo.definitions import feed_v1, ranker_v1, service_features, training_v1
from feature_repo.feature_schema import FEATURES, SCORING_INPUTS


def test_the_store_reads_the_settings_data_root(tmp_path):
    config = feature_store(Settings(data_root=tmp_path)).config
    assert config.repo_path == tmp_path
    assert config.online_store.path == str(tmp_path / "feast" / "online.db")


def test_the_store_takes_the_cluster_settings(tmp_path):
    settings = Settings(
        data_root=tmp_path,
        online_store="redis",
        redis_connection_string="redis:6379",
        feast_registry="postgresql+psycopg://skillrank@postgres:5432/feast",
    )
    config = feature_store(settings).config
    assert config.online_store.connection_string == "redis:6379"
    assert config.registry.path == "postgresql+psycopg://skillrank@postgres:5432/feast"


@pytest.mark.parametrize(
    ("feature_set", "inputs", "feed"), [("evidence", ranker_v1, feed_v1), ("all", training_v1, training_v1)]
)
def test_each_feature_set_has_its_input_and_feed_services(feature_set, inputs, feed):
    assert input_service(feature_set) is inputs and feed_service(feature_set) is feed


def test_the_feed_reads_the_models_inputs_and_what_scoring_needs():
    for feature_set in ("evidence", "all"):
        read = set(service_features(feed_service(feature_set)))
        assert set(service_features(input_service(feature_set))) | set(SCORING_INPUTS) <= read


def test_the_training_frame_and_batch_scoring_read_every_feature_by_default():
    assert Settings().feature_service == training_v1.name
    assert service_features(training_v1) == list(FEATURES)


@pytest.mark.parametrize("choose", [input_service, feed_service])
def test_an_unknown_feature_set_is_a_data_error(choose):
    with pytest.raises(
        DataError, match=r"unknown feature set 'some' \(ranker_features\): choose one of evidence, all"
    ):
        choose("some")
