"""Build a Feast `FeatureStore` for a data root, from settings instead of a hand-edited YAML file."""

from __future__ import annotations

from feast import FeatureStore, RepoConfig
from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
from feast.infra.online_stores.redis import RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.infra.registry.sql import SqlRegistryConfig

from components.config.layout import DataLayout
from components.config.settings import Settings
from feature_repo.definitions import ALL_DEFINITIONS

PROJECT = "skillrank"


def repo_config(settings: Settings) -> RepoConfig:
    """The Feast configuration for `settings`: SQLite by default, Redis / SQL registry in a cluster."""
    layout = DataLayout(settings.data_root.resolve())
    if settings.online_store == "redis":
        online = RedisOnlineStoreConfig(connection_string=settings.redis_connection_string)
    else:
        online = SqliteOnlineStoreConfig(path=str(layout.feast_dir / "online.db"))
    registry_path = settings.feast_registry or f"sqlite:///{layout.feast_dir / 'registry.db'}"
    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=SqlRegistryConfig(registry_type="sql", path=registry_path, cache_ttl_seconds=60),
        online_store=online,
        offline_store=DaskOfflineStoreConfig(),
        repo_path=layout.root,
        entity_key_serialization_version=3,
    )


def feature_store(settings: Settings) -> FeatureStore:
    """A `FeatureStore` over the data root of `settings` (directories are created on demand)."""
    DataLayout(settings.data_root.resolve()).feast_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings))


def apply_definitions(store: FeatureStore) -> None:
    """Register (or update) the entity, source, views and services of `feature_repo.definitions`."""
    store.apply(ALL_DEFINITIONS)
