"""The Feast store of a data root, from explicit arguments."""

from __future__ import annotations

import pytest

from feature_repo.definitions import FEATURE_SERVICES, account
from feature_repo.store import definitions, feature_store, repo_config


def test_local_stores_live_under_the_data_root(tmp_path):
    config = repo_config(tmp_path)
    assert config.registry.path == f"sqlite:///{tmp_path / 'feast' / 'registry.db'}"
    assert config.online_store.path == str(tmp_path / "feast" / "online.db")
    assert config.repo_path == tmp_path


def test_redis_and_a_registry_url_are_taken_as_given(tmp_path):
    config = repo_config(
        tmp_path,
        online_store="redis",
        redis_connection_string="redis:6379",
        registry="postgresql+psycopg://db/feast",
    )
    assert config.online_store.connection_string == "redis:6379"
    assert config.registry.path == "postgresql+psycopg://db/feast"


def test_an_unknown_online_store_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown online store 'dynamo': choose one of sqlite, redis"):
        repo_config(tmp_path, online_store="dynamo")


def test_redis_needs_a_connection_string(tmp_path):
    with pytest.raises(ValueError, match="needs a connection string"):
        repo_config(tmp_path, online_store="redis")


def test_the_store_makes_its_local_directory(tmp_path):
    feature_store(tmp_path / "root")
    assert (tmp_path / "root" / "feast").is_dir()


def test_definitions_read_the_features_of_the_given_data_root(tmp_path):
    entity, source, view, *services = definitions(tmp_path)
    assert entity is account and services == FEATURE_SERVICES
    assert source.path == str(tmp_path / "features") and view.batch_source is source
