"""A Feast `FeatureStore` over one data root, from explicit arguments (this package reads no settings).

Locally (the defaults) the registry is SQL on SQLite and the online store SQLite, both under
``<data root>/feast/`` as in ``feature_store.yaml``; in a cluster, Redis and a PostgreSQL registry.
`components.config.feast.feature_store` is the one caller that fills the arguments in from settings.
"""

from __future__ import annotations

from pathlib import Path

from feast import FeatureStore, RepoConfig
from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
from feast.infra.online_stores.redis import RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.infra.registry.sql import SqlRegistryConfig

from feature_repo.definitions import FEATURE_SERVICES, account, features_source, features_view

PROJECT = "skillrank"
ONLINE_STORES = ("sqlite", "redis")
REGISTRY_CACHE_TTL_SECONDS = 60


def feast_dir(data_root: Path) -> Path:
    """Where the local registry and online store of `data_root` live."""
    return Path(data_root).resolve() / "feast"


def repo_config(
    data_root: Path,
    *,
    online_store: str = "sqlite",
    redis_connection_string: str | None = None,
    registry: str | None = None,
) -> RepoConfig:
    """The Feast configuration of `data_root`.

    Args:
        data_root: The data root whose ``features/`` the store serves.
        online_store: ``sqlite`` (a file under the data root) or ``redis``.
        redis_connection_string: ``host:port[,db=N]`` of Redis; needed for ``redis``.
        registry: SQLAlchemy URL of the registry; default SQLite under the data root.

    Raises:
        ValueError: An unknown online store, or ``redis`` without a connection string.
    """
    if online_store not in ONLINE_STORES:
        raise ValueError(f"unknown online store '{online_store}': choose one of {', '.join(ONLINE_STORES)}")
    local = feast_dir(data_root)
    if online_store == "redis":
        if not redis_connection_string:
            raise ValueError("the redis online store needs a connection string (host:port)")
        online = RedisOnlineStoreConfig(connection_string=redis_connection_string)
    else:
        online = SqliteOnlineStoreConfig(path=str(local / "online.db"))
    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=SqlRegistryConfig(
            registry_type="sql",
            path=registry or f"sqlite:///{local / 'registry.db'}",
            cache_ttl_seconds=REGISTRY_CACHE_TTL_SECONDS,
        ),
        online_store=online,
        offline_store=DaskOfflineStoreConfig(),
        repo_path=Path(data_root).resolve(),
        entity_key_serialization_version=3,
    )


def feature_store(
    data_root: Path,
    *,
    online_store: str = "sqlite",
    redis_connection_string: str | None = None,
    registry: str | None = None,
) -> FeatureStore:
    """A `FeatureStore` over `data_root` (arguments as `repo_config`); makes the local Feast directory."""
    config = repo_config(
        data_root,
        online_store=online_store,
        redis_connection_string=redis_connection_string,
        registry=registry,
    )
    feast_dir(data_root).mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=config)


def definitions(data_root: Path) -> list:
    """The entity, the source of `data_root`'s ``features/``, the view over it and every feature service."""
    source = features_source(data_root)
    return [account, source, features_view(source), *FEATURE_SERVICES]


def apply_definitions(store: FeatureStore) -> None:
    """Register (or update) the declarations of `feature_repo.definitions` for the store's data root."""
    store.apply(definitions(store.config.repo_path))
