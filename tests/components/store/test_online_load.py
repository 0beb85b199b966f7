"""The fast online load writes exactly what Feast's `materialize` writes, on SQLite and on Redis."""

from __future__ import annotations

import json
import sqlite3
import uuid

import numpy as np
import pandas as pd
import pytest
from feast.infra.online_stores.helpers import extract_text_and_num
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from components.config.feast import feature_store
from components.config.settings import Settings
from components.errors import DataError
from components.store import online_load
from components.store.feast_io import load_latest_online, materialize_latest
from feature_repo.definitions import account_monthly_features, training_v1
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES
from feature_repo.store import apply_definitions
from tests.serving_world import AS_OF_DATES, make_features

N_ACCOUNTS = 40
TABLE = "skillrank_account_monthly_features"


def features_with_edge_cases() -> pd.DataFrame:
    """Two month-ends; a missing value, an infinite one, an account only at the first month-end."""
    frame = make_features(N_ACCOUNTS)
    frame.loc[5, "sharpe_12m"] = np.nan  # first date: superseded
    frame.loc[N_ACCOUNTS + 7, "hhi"] = np.nan
    frame.loc[N_ACCOUNTS + 8, "alpha_12m"] = np.inf
    frame.loc[N_ACCOUNTS + 9, "skew_12m"] = -0.0
    return frame.drop(index=N_ACCOUNTS + 3).reset_index(drop=True)


def store_of(tmp_path, frame: pd.DataFrame, **settings):
    settings = Settings(data_root=tmp_path, **settings)
    settings.layout.features.mkdir(parents=True)
    frame.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    store = feature_store(settings)
    return settings, store


def online(store, accounts) -> pd.DataFrame:
    return (
        store.get_online_features(
            features=store.get_feature_service(training_v1.name),
            entity_rows=[{ENTITY_KEY: account} for account in accounts],
        )
        .to_df()
        .set_index(ENTITY_KEY)
        .sort_index(axis=1)
    )


def stored_rows(settings) -> list[tuple]:
    with sqlite3.connect(settings.data_root / "feast" / "online.db") as conn:
        return conn.execute(f"SELECT * FROM {TABLE} ORDER BY entity_key, feature_name").fetchall()


def test_sqlite_fast_path_writes_the_rows_materialize_writes(tmp_path):
    frame = features_with_edge_cases()
    reference, fast = [store_of(tmp_path / name, frame) for name in ("materialize", "fast")]
    for _, store in (reference, fast):
        apply_definitions(store)
    materialize_latest(reference[1], AS_OF_DATES[-1])
    load = load_latest_online(fast[1], fast[0].layout, AS_OF_DATES[-1])
    assert (load.rows_in_window, load.accounts, load.written) == (len(frame), N_ACCOUNTS, N_ACCOUNTS)
    rows = stored_rows(fast[0])
    assert len(rows) == N_ACCOUNTS * len(FEATURES)
    assert rows == stored_rows(reference[0])  # byte for byte: keys, values, texts, timestamps
    accounts = sorted(frame[ENTITY_KEY].unique())
    pd.testing.assert_frame_equal(online(fast[1], accounts), online(reference[1], accounts))
    account_3 = online(fast[1], ["acc-0003"])  # its newest row is the first month-end's
    assert account_3.loc["acc-0003", "sharpe_12m"] == frame.loc[3, "sharpe_12m"]


def test_a_load_in_many_parts_writes_the_rows_materialize_writes(tmp_path, monkeypatch):
    """Value texts formatted by the worker process, several parts a transaction, several transactions."""
    monkeypatch.setattr(online_load, "TEXT_ACCOUNTS", 7)
    monkeypatch.setattr(online_load, "CHUNK_ACCOUNTS", 15)
    frame = features_with_edge_cases()
    reference, fast = [store_of(tmp_path / name, frame) for name in ("materialize", "fast")]
    for _, store in (reference, fast):
        apply_definitions(store)
    materialize_latest(reference[1], AS_OF_DATES[-1])
    load_latest_online(fast[1], fast[0].layout, AS_OF_DATES[-1])
    assert stored_rows(fast[0]) == stored_rows(reference[0])


def test_value_texts_are_feasts_value_text():
    edge = [0.0, -0.0, 1e-05, 3.0, 0.1 + 0.2, 1e16, 123456789012345678.0, -2.5e-300, 5e-324, 1.8e308 / 1.1]
    values = np.array([edge + [np.inf, -np.inf], np.random.default_rng(3).normal(size=12) * 1e3])
    for row, text in zip(values, online_load.value_texts(values), strict=True):
        expected = [extract_text_and_num(ValueProto(double_val=value), False)[0] for value in row]
        assert json.loads(text) == expected


def test_a_second_load_overwrites_as_materialize_does(tmp_path):
    frame = features_with_edge_cases()
    settings, store = store_of(tmp_path, frame)
    apply_definitions(store)
    materialize_latest(store, AS_OF_DATES[-1])
    before = stored_rows(settings)
    load_latest_online(store, settings.layout, AS_OF_DATES[-1])
    assert stored_rows(settings) == before


@pytest.fixture
def redis_settings():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return {"online_store": "redis", "redis_connection_string": "127.0.0.1:6379"}


def redis_store(tmp_path, frame, redis_settings, project):
    settings, store = store_of(tmp_path, frame, **redis_settings)
    store.config.project = project  # a project of its own: keys of other tests and runs stay apart
    apply_definitions(store)
    return settings, store


def redis_hashes(client, project: str) -> dict:
    return {key: client.hgetall(key) for key in client.scan_iter(match=b"*" + project.encode())}


def test_redis_fast_path_writes_the_hashes_materialize_writes(tmp_path, redis_settings):
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    frame = features_with_edge_cases()
    projects = [f"test_online_{name}_{uuid.uuid4().hex[:8]}" for name in ("materialize", "fast")]
    try:
        reference = redis_store(tmp_path / "materialize", frame, redis_settings, projects[0])
        fast = redis_store(tmp_path / "fast", frame, redis_settings, projects[1])
        materialize_latest(reference[1], AS_OF_DATES[-1])
        load = load_latest_online(fast[1], fast[0].layout, AS_OF_DATES[-1])
        assert load.written == N_ACCOUNTS
        accounts = sorted(frame[ENTITY_KEY].unique())
        pd.testing.assert_frame_equal(online(fast[1], accounts), online(reference[1], accounts))
        strip = len(projects[0].encode())
        expected = {key[:-strip]: value for key, value in redis_hashes(client, projects[0]).items()}
        got = {
            key[: -len(projects[1].encode())]: value
            for key, value in redis_hashes(client, projects[1]).items()
        }
        assert got == expected  # the same fields and bytes per account
        # Feast's rule: a row older than the stored one is not written
        older = online_load.load_frame_latest(fast[1], account_monthly_features.name, frame, AS_OF_DATES[0])
        assert older.written == 0
        pd.testing.assert_frame_equal(online(fast[1], accounts), online(reference[1], accounts))
    finally:
        for project in projects:
            for key in client.scan_iter(match=b"*" + project.encode()):
                client.delete(key)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (ENTITY_KEY, None, "no account_id"),
        (ENTITY_KEY, "", "no account_id"),
        (EVENT_TIMESTAMP, pd.NaT, "no as_of_date"),
    ],
)
def test_a_row_without_an_account_or_a_date_is_refused(column, value, reason):
    frame = make_features(5)
    frame[column] = frame[column].astype(object) if column == ENTITY_KEY else frame[column]
    frame.loc[2, column] = value
    with pytest.raises(
        DataError, match=rf"refusing to load the online store: 1 rows with {reason} \(rows \[2\]\)"
    ):
        online_load.latest_rows(frame, AS_OF_DATES[0], AS_OF_DATES[-1])


def test_two_rows_of_an_account_at_its_newest_date_are_refused():
    frame = make_features(5)
    frame = pd.concat([frame, frame.tail(1)], ignore_index=True)
    with pytest.raises(
        DataError, match=r"1 accounts have two rows at their newest as_of_date \(e.g. \['acc-0004'\]\)"
    ):
        online_load.latest_rows(frame, AS_OF_DATES[0], AS_OF_DATES[-1])


def test_a_bad_row_fails_the_load_before_anything_is_written(tmp_path):
    frame = features_with_edge_cases()
    frame.loc[0, EVENT_TIMESTAMP] = pd.NaT
    settings, store = store_of(tmp_path, frame)
    apply_definitions(store)
    with pytest.raises(DataError, match="1 rows with no as_of_date"):
        load_latest_online(store, settings.layout, AS_OF_DATES[-1])
    assert stored_rows(settings) == []
