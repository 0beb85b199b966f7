"""Settings -> Feast: the one place Feast clients and the services a model reads are chosen from settings.

`feature_store` builds the store of the settings' data root (SQLite locally; Redis and a PostgreSQL
registry in a cluster). `Settings.feature_service` names the service the training frame and batch
scoring read; `Settings.ranker_features` says which service holds the model's inputs and which one
the feed reads for such a model:

| ranker_features | model inputs | the feed reads |
|---|---|---|
| evidence | ranker_v1 | feed_v1 (ranker_v1 and scoring_v1) |
| all | training_v1 | training_v1 |
"""

from __future__ import annotations

from feast import FeatureService, FeatureStore

from components.config.settings import Settings
from components.errors import DataError
from feature_repo import store
from feature_repo.definitions import feed_v1, ranker_v1, training_v1

INPUT_SERVICES: dict[str, FeatureService] = {"evidence": ranker_v1, "all": training_v1}
FEED_SERVICES: dict[str, FeatureService] = {"evidence": feed_v1, "all": training_v1}


def feature_store(settings: Settings) -> FeatureStore:
    """The Feast store of `settings`: its data root, online store, Redis and registry settings."""
    return store.feature_store(
        settings.data_root.resolve(),
        online_store=settings.online_store,
        redis_connection_string=settings.redis_connection_string,
        registry=settings.feast_registry,
    )


def input_service(feature_set: str) -> FeatureService:
    """The service of the model's inputs for a ``ranker_features`` setting.

    Raises:
        DataError: `feature_set` is not a known feature set.

    Example:
        >>> input_service("evidence").name
        'ranker_v1'
    """
    _check_feature_set(feature_set)
    return INPUT_SERVICES[feature_set]


def feed_service(feature_set: str) -> FeatureService:
    """The service the feed reads per candidate for a model on `feature_set`: its inputs, and scoring's.

    Example:
        >>> feed_service("evidence").name, feed_service("all").name
        ('feed_v1', 'training_v1')
    """
    _check_feature_set(feature_set)
    return FEED_SERVICES[feature_set]


def _check_feature_set(feature_set: str) -> None:
    if feature_set not in INPUT_SERVICES:
        raise DataError(
            f"unknown feature set '{feature_set}' (ranker_features): choose one of "
            f"{', '.join(INPUT_SERVICES)}"
        )
