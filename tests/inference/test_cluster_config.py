"""The cluster-style configuration on real services: Feast with a Redis online store and its registry in
PostgreSQL, MLflow tracking and registry in PostgreSQL; the served feed equals batch scoring there too.

Uses the PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) that run on the development
and CI machines; skipped, saying why, where they do not.
"""

import socket
import uuid

import pytest

from components.config.feast import feature_store
from components.config.tracking import mlflow_client
from components.scoring.finalize import finalize_scores
from tests.serving_world import FEATURE_NAMES, build_world

pytestmark = pytest.mark.cluster

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
REDIS_DB = 3  # this module's own database, emptied before its world is built


def reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def database():
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    if not (reachable(POSTGRES) and reachable(REDIS)):
        pytest.skip("PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 are needed for cluster tests")
    import psycopg2

    name = f"skillrank_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield f"postgres@{POSTGRES[0]}:{POSTGRES[1]}/{name}"
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="module")
def cluster_world(tmp_path_factory, database):
    import redis

    # Feast's Redis store skips a row whose stored event time is not older: values an earlier run wrote
    # for the same accounts and dates (with another feature list, say) would otherwise stay.
    redis.Redis(host=REDIS[0], port=REDIS[1], db=REDIS_DB).flushdb()
    # Building a world puts MLflow's global URIs back afterwards (`tests.serving_world.mlflow_globals`),
    # so no later test reaches this module's database once it is dropped.
    yield build_world(
        tmp_path_factory.mktemp("cluster-world"),
        n_accounts=40,
        top_k=5,
        online_store="redis",
        redis_connection_string=f"{REDIS[0]}:{REDIS[1]},db={REDIS_DB}",
        feast_registry=f"postgresql+psycopg://{database}",
        mlflow_tracking_uri=f"postgresql://{database}",
    )


def test_online_features_come_from_redis_and_equal_the_offline_ones(cluster_world):
    store = feature_store(cluster_world.settings)
    latest = cluster_world.latest.reset_index().sort_values("account_id").head(10)
    online = store.get_online_features(
        features=store.get_feature_service(cluster_world.settings.feature_service),
        entity_rows=[{"account_id": a} for a in latest["account_id"]],
    ).to_df()
    assert type(store._get_provider().online_store).__name__ == "RedisOnlineStore"
    merged = latest.merge(online, on="account_id", suffixes=("", "_online"))
    for name in FEATURE_NAMES:
        assert merged[name].fillna(-1e9).tolist() == pytest.approx(
            merged[f"{name}_online"].fillna(-1e9).tolist()
        )


def test_registry_and_model_live_in_postgres(cluster_world):

    client = mlflow_client(cluster_world.settings)
    assert client.get_model_version_by_alias(cluster_world.settings.model_name, "champion").version
    assert feature_store(cluster_world.settings).get_feature_service(cluster_world.settings.feature_service)


def test_served_feed_equals_batch_scoring_on_the_cluster_stores(cluster_world):
    from pipelines.feed import fetch_feed

    feed = fetch_feed(cluster_world.settings, top_k=5)
    latest = cluster_world.latest.reset_index()
    expected = finalize_scores(
        latest, cluster_world.booster.predict(latest[FEATURE_NAMES]), constants=cluster_world.constants
    )
    served = [investor["account_id"] for investor in feed["investors"]]
    in_feed = expected[expected["account_id"].isin(served)]
    assert served == in_feed["account_id"].tolist()
