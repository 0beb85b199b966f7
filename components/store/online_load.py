"""Load the latest features of every account into the Feast online store, fast.

`FeatureStore.materialize` (and `write_to_online_store`, the same path without the offline read)
turns every value into a Python ``ValueProto`` (`feast.utils._convert_arrow_to_proto`) and then the
online store writes them one by one: the SQLite store runs one ``execute`` per (account, feature)
and the Redis store builds one ``HSET`` per account in Python. Profiled at 20k accounts x 44
features (cProfile, this machine): 12.3 s, 1.6k accounts/s, of which 7.6 s is SQLite's per-row
``execute`` and 3.6 s the proto conversion. Feast's own batching cannot beat that: the conversion
alone caps either store at about 5.5k accounts/s, before any write.

So this module writes the rows Feast's online stores write, byte for byte, without the per-value
Python objects (tests/components/store/test_online_load.py reads both back through
`get_online_features` and compares the stored rows with what `materialize` left):

* The rows are those `materialize` selects for the feature view: per account, its row with the
  newest event timestamp in [start, end] (both inclusive, as Feast's file offline store filters).
* A value is a serialized ``feast.types.Value`` whose ``double_val`` (field 5, fixed64) is set:
  the byte ``0x29`` and the float64 little-endian; a missing value (NaN) is the empty message, as
  Feast's `python_values_to_proto_values` makes it. Every feature of the contract is Float64
  (`feature_repo.definitions.account_view`); any other dtype is refused.
* The entity key is `feast.infra.key_encoding_utils.serialize_entity_key` version 3 of one string
  join key (checked against Feast's own function on the first key of every load).
* SQLite: the table `compute_table_id` names, Feast's upsert (same columns, same ``ON CONFLICT``
  update), ``value_text`` = ``str(value)`` (Feast's `extract_text_and_num`) or NULL, ``event_ts``
  through the sqlite3 adapter Feast registers, ``created_ts`` NULL (the source has no created
  column). SQLite expands each account's 44 values itself (``json_each`` over one text, ``substr``
  over one blob), one statement per account in a transaction per `CHUNK_ACCOUNTS`, on a connection
  of its own with ``synchronous=OFF`` and an in-memory rollback journal: the online store is a cache
  that `publish` rebuilds from the offline table, so a crash mid-load costs a re-publish, not data.
  Rows go in in primary-key order (entity key bytes, then feature name), so the table and both of
  Feast's indexes only append. The value texts (``str`` of 44 floats an account, a quarter of the
  load's CPU) are formatted by a forked worker process, `TEXT_ACCOUNTS` at a time, one part ahead
  of SQLite: the two cores work at once (not a thread, untried: it would hold the GIL that the
  writer takes back after every statement). SQLite's own insert (2.5-3 us a row on a loaded
  machine, three B-trees) is what remains; measured and not kept, as no faster within noise at 20k
  accounts: a plain ``INSERT`` into an empty table (no ``ON CONFLICT``), the ``_ek`` index built
  after the load, a 256 MB page cache, 16 or 64 kB pages, ``journal_mode=OFF``,
  ``locking_mode=EXCLUSIVE`` (which would also lock readers out during a load), ``executemany``
  over 44 prebuilt tuples an account (2.5x slower than the ``json_each`` expansion) and numpy's
  ``astype(str)`` (the same strings, 1.5x slower than ``str``).
* Redis: Feast's key (`_redis_key`: entity key + project), fields (`_mmh3` of ``view:feature``,
  computed once per feature, not once per value), the ``_ts:<view>`` field (a serialized protobuf
  Timestamp) and, unless the store's ``skip_dedup`` is set, Feast's rule that a row older than the
  one stored is not written (one pipelined ``HMGET`` per chunk, as Feast does); ``EXPIRE`` when
  ``key_ttl_seconds`` is set; one pipeline per chunk.

Bad rows are refused, never dropped silently: a row without an account or without an as-of date in
the frame, or two rows of one account at its newest date, is a `DataError` naming how many and which.
"""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import struct
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from feast import FeatureStore, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, _redis_key, compute_table_id
from feast.infra.online_stores.sqlite import SqliteOnlineStore, adapt_datetime_epoch
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.types import Float64
from feast.utils import make_tzaware, to_naive_utc
from google.protobuf.timestamp_pb2 import Timestamp
from redis import exceptions as redis_errors

from components.errors import DataError
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

logger = logging.getLogger(__name__)

# Accounts per SQLite transaction and per Redis pipeline: bounds the in-memory journal and the
# pipeline's buffers (a 1M-account load is 44M SQLite rows, about 12 GB on disk).
CHUNK_ACCOUNTS = 50_000
# Accounts per task of the value-text worker: small enough that SQLite waits for the first one only
# briefly, large enough that pickling the strings back costs little (about 4 MB a task).
TEXT_ACCOUNTS = 5_000
DOUBLE_VAL_TAG = 0x29  # feast.types.Value.double_val: field 5, wire type 1 (fixed64)
ENTITY_KEY_VERSION = 3


@dataclass(frozen=True)
class OnlineLoad:
    """What one load wrote: rows of the frame in the window, accounts written, where and how fast."""

    rows_in_window: int
    accounts: int
    written: int  # accounts written (Redis skips an account whose stored row is newer)
    online_store: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def latest_rows(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per account, its row with the newest as-of date in [start, end]: what `materialize` loads.

    Raises:
        DataError: A row has no account or no as-of date, or an account has two rows at its newest
            date (which one is online would be arbitrary).
    """
    bad = {
        f"no {ENTITY_KEY}": frame[ENTITY_KEY].isna() | (frame[ENTITY_KEY].astype(str) == ""),
        f"no {EVENT_TIMESTAMP}": frame[EVENT_TIMESTAMP].isna(),
    }
    problems = [
        f"{int(mask.sum())} rows with {reason} (rows {list(frame.index[mask][:5])})"
        for reason, mask in bad.items()
        if mask.any()
    ]
    if problems:
        raise DataError(f"refusing to load the online store: {'; '.join(problems)}")
    timestamps = frame[EVENT_TIMESTAMP]
    window = frame[(timestamps >= start) & (timestamps <= end)]
    latest = window.sort_values(EVENT_TIMESTAMP, kind="stable").drop_duplicates(ENTITY_KEY, keep="last")
    newest = window[EVENT_TIMESTAMP] == window[ENTITY_KEY].map(latest.set_index(ENTITY_KEY)[EVENT_TIMESTAMP])
    duplicated = window[newest].duplicated(ENTITY_KEY, keep=False)
    if duplicated.any():
        accounts = window[newest][duplicated][ENTITY_KEY].unique()
        raise DataError(
            f"refusing to load the online store: {len(accounts)} accounts have two rows at their newest "
            f"{EVENT_TIMESTAMP} (e.g. {list(accounts[:5])})"
        )
    return latest.sort_values(ENTITY_KEY).reset_index(drop=True)


def write_latest(store: FeatureStore, view_name: str, latest: pd.DataFrame) -> OnlineLoad:
    """Write `latest` (one row per account, as `latest_rows` returns) into the store's online store
    for the registered feature view `view_name`, exactly as Feast's own write of those rows would."""
    view = store.get_feature_view(view_name)
    features = [field.name for field in view.features]
    not_double = [field.name for field in view.features if field.dtype != Float64]
    if not_double or view.batch_source.created_timestamp_column:
        raise DataError(
            f"the fast online load writes Float64 features of a source without a created column; "
            f"'{view_name}' has {not_double or 'a created timestamp column'}"
        )
    if store.config.entity_key_serialization_version != ENTITY_KEY_VERSION:
        raise DataError(f"the fast online load writes entity keys of version {ENTITY_KEY_VERSION} only")
    started = time.perf_counter()
    kind = store.config.online_store.type
    if kind == "sqlite":
        written = _write_sqlite(store, view, features, latest)
    elif kind == "redis":
        written = _write_redis(store, view, features, latest)
    else:
        raise DataError(f"no fast online load for the '{kind}' online store")
    return OnlineLoad(len(latest), len(latest), written, kind, time.perf_counter() - started)


def entity_keys(accounts: list[str]) -> list[bytes]:
    """Feast's entity key (version 3) of each account id: one string join key, `ENTITY_KEY`.

    Example:
        >>> key = EntityKeyProto(join_keys=[ENTITY_KEY], entity_values=[ValueProto(string_val="a-1")])
        >>> entity_keys(["a-1"]) == [serialize_entity_key(key, entity_key_serialization_version=3)]
        True
    """
    join_key = ENTITY_KEY.encode()
    # count of keys, then (type STRING, length, name), then per value (type STRING, length, bytes)
    prefix = struct.pack("<III", 1, 2, len(join_key)) + join_key + struct.pack("<I", 2)
    pack = struct.Struct("<I").pack
    return [prefix + pack(len(raw)) + raw for raw in (account.encode() for account in accounts)]


def _checked_entity_keys(accounts: list[str]) -> list[bytes]:
    keys = entity_keys(accounts)
    if keys:
        proto = EntityKeyProto(join_keys=[ENTITY_KEY], entity_values=[ValueProto(string_val=accounts[0])])
        if keys[0] != serialize_entity_key(proto, entity_key_serialization_version=ENTITY_KEY_VERSION):
            raise DataError("Feast's entity key serialization changed: the fast online load is out of date")
    return keys


def value_blobs(values: np.ndarray) -> list[bytes]:
    """Per row of `values` (accounts x features, float64), the features' serialized ``Value``s, each
    9 bytes: ``0x29`` + the float64 little-endian, or ``0x00`` + 8 zero bytes for a missing value.

    Example:
        >>> value_blobs(np.array([[0.5, np.nan]]))[0].hex(" ", 9)
        '29000000000000e03f 000000000000000000'
    """
    cells = np.zeros(values.shape, dtype=[("tag", "u1"), ("value", "<f8")])
    present = ~np.isnan(values)
    cells["tag"][present] = DOUBLE_VAL_TAG
    cells["value"][present] = values[present]
    width = 9 * values.shape[1]
    raw = cells.tobytes()
    return [raw[start : start + width] for start in range(0, len(raw), width)]


def _event_seconds(timestamps: pd.Series) -> np.ndarray:
    """``event_ts`` as Feast's SQLite store stores it (its sqlite3 adapter over a naive UTC datetime)."""
    seconds = {ts: adapt_datetime_epoch(to_naive_utc(_as_datetime(ts))) for ts in timestamps.unique()}
    return timestamps.map(seconds).to_numpy()


def _as_datetime(ts) -> datetime:
    stamp = pd.Timestamp(ts)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")).to_pydatetime()


def _chunks(n: int, size: int = CHUNK_ACCOUNTS) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def value_texts(values: np.ndarray) -> list[str]:
    """Per row of `values` (accounts x features, float64), its features' ``value_text``s as one JSON
    array of strings: ``str(value)`` is Feast's value_text (`extract_text_and_num`); the SQLite
    statement stores NULL instead of a missing value's ``'nan'``.

    Example:
        >>> value_texts(np.array([[0.5, 1e-05, -0.0, 3.0, 1e16, np.inf, np.nan]]))
        ['["0.5","1e-05","-0.0","3.0","1e+16","inf","nan"]']
    """
    return ['["' + '","'.join(map(str, row)) + '"]' for row in values.tolist()]


def _texts_ahead(values: np.ndarray, parts: list[slice]) -> Iterator[list[str]]:
    """`value_texts` of each part of `values`, in order, formatted by a forked worker process that
    keeps one part ahead of the caller (a load of one part, or no fork, formats them here)."""
    if len(parts) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from (value_texts(values[part]) for part in parts)
        return
    # fork, not spawn: a spawned worker would import Feast again (seconds) to format floats
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        ahead = deque()
        for part in parts:
            ahead.append(pool.submit(value_texts, values[part]))
            if len(ahead) > 2:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _write_sqlite(store: FeatureStore, view: FeatureView, features: list[str], latest: pd.DataFrame) -> int:
    config = store.config
    online = config.online_store
    if online.vector_enabled or getattr(online, "enable_openai_compatible_store", False):
        raise DataError("the fast online load writes no vector or value_num columns: turn them off")
    table = compute_table_id(
        config.project, view, getattr(config.registry, "enable_online_feature_view_versioning", False)
    )
    ordered = sorted(features)  # rows go in in primary-key order (entity_key, feature_name)
    accounts = latest[ENTITY_KEY].astype(str).tolist()
    keys = _checked_entity_keys(accounts)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    values = latest[ordered].to_numpy(dtype="float64")[order]
    seconds = _event_seconds(latest[EVENT_TIMESTAMP])[order]
    keys = [keys[i] for i in order]
    quoted = '"' + table.replace('"', '""') + '"'
    upsert = (
        f"INSERT INTO {quoted} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
        "SELECT ?1, f.name, "
        f"CASE WHEN substr(?2, 9 * f.idx + 1, 1) = x'{DOUBLE_VAL_TAG:02x}' THEN substr(?2, 9 * f.idx + 1, 9) "
        "ELSE x'' END, "
        f"CASE WHEN substr(?2, 9 * f.idx + 1, 1) = x'{DOUBLE_VAL_TAG:02x}' THEN j.value END, ?4, NULL "
        "FROM json_each(?3) AS j JOIN temp.skillrank_features AS f ON f.idx = j.key "
        # no ORDER BY: json_each yields the array's order, already feature_name order, and a sort of
        # 44 rows per statement cost ~10% (the order only speeds the B-trees, the rows are the same);
        # WHERE true: without it SQLite would parse ON CONFLICT as the join's ON
        "WHERE true "
        "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
        "value_text = excluded.value_text, event_ts = excluded.event_ts, created_ts = excluded.created_ts"
    )
    conn = sqlite3.connect(SqliteOnlineStore._get_db_path(config))
    try:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone():
            raise DataError(f"no online table {table}: register the definitions first (feast apply)")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA journal_mode = MEMORY")
        conn.execute("CREATE TEMP TABLE skillrank_features (idx INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO temp.skillrank_features VALUES (?, ?)", list(enumerate(ordered)))
        parts = _chunks(len(keys), TEXT_ACCOUNTS)
        uncommitted = 0
        for part, texts in zip(parts, _texts_ahead(values, parts), strict=True):
            blobs = value_blobs(values[part])
            conn.executemany(upsert, zip(keys[part], blobs, texts, seconds[part].tolist(), strict=True))
            uncommitted += part.stop - part.start
            if uncommitted >= CHUNK_ACCOUNTS or part.stop == len(keys):
                conn.commit()  # sqlite3 began the transaction at the first INSERT; close rolls it back
                uncommitted = 0
    finally:
        conn.close()
    return len(keys)


def _write_redis(store: FeatureStore, view: FeatureView, features: list[str], latest: pd.DataFrame) -> int:
    from feast.infra.online_stores.redis import RedisOnlineStore, _versioned_fv_name

    config = store.config
    online = config.online_store
    client = RedisOnlineStore()._get_client(online)
    view_key = _versioned_fv_name(view, config)
    ts_field = f"_ts:{view_key}".encode()
    fields = [_mmh3(f"{view_key}:{name}") for name in features]
    head = b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * (len(fields) + 1))
    ts_resp = _bulk(ts_field)
    accounts = latest[ENTITY_KEY].astype(str).tolist()
    project = config.project.encode()
    keys = [key + project for key in _checked_entity_keys(accounts)]
    if keys:
        proto = EntityKeyProto(join_keys=[ENTITY_KEY], entity_values=[ValueProto(string_val=accounts[0])])
        assert keys[0] == _redis_key(config.project, proto, entity_key_serialization_version=3)
    stamps, nanos = {}, {}
    for ts in latest[EVENT_TIMESTAMP].unique():
        proto_ts = Timestamp()
        proto_ts.FromDatetime(make_tzaware(_as_datetime(ts)))
        stamps[ts], nanos[ts] = proto_ts.SerializeToString(), proto_ts.seconds * 10**9 + proto_ts.nanos
    row_stamps = latest[EVENT_TIMESTAMP].map(stamps).tolist()
    row_nanos = latest[EVENT_TIMESTAMP].map(nanos).tolist()
    values = latest[features].to_numpy(dtype="float64")
    written = 0
    for part in _chunks(len(keys)):
        part_keys = keys[part]
        newer = [True] * len(part_keys)
        if not online.skip_dedup:
            stored = _send(client, [_resp(b"HGET", key, ts_field) for key in part_keys], 1)
            newer = [
                prev is None or row > _stored_nanos(prev)
                for prev, row in zip(stored, row_nanos[part], strict=True)
            ]
        bodies = _hset_bodies(fields, values[part])
        commands = [
            head + _bulk(key) + ts_resp + _bulk(stamp) + body
            for key, body, stamp, write in zip(part_keys, bodies, row_stamps[part], newer, strict=True)
            if write
        ]
        if online.key_ttl_seconds:
            ttl = str(online.key_ttl_seconds).encode()
            commands = [
                c + _resp(b"EXPIRE", key, ttl)
                for c, key in zip(commands, _kept(part_keys, newer), strict=True)
            ]
        _send(client, commands, 2 if online.key_ttl_seconds else 1)
        written += len(commands)
    return written


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _resp(*args: bytes) -> bytes:
    """One Redis command in RESP, as redis-py's `PythonParser`-side packer would send it."""
    return b"*%d\r\n" % len(args) + b"".join(map(_bulk, args))


_EMPTY_BULK = b"$0\r\n\r\n"


def _hset_bodies(fields: list[bytes], values: np.ndarray) -> list[bytes]:
    """Per account, the ``<field> <Value>`` pairs of Feast's HSET, packed in RESP.

    redis-py packs each of a command's ~90 arguments in Python (12 s of a 100k-account load, and
    hiredis is not a dependency), so the pairs are laid out with numpy: 25 bytes a feature
    (``$4 field $9 Value``); a row with a missing value (the empty ``Value``) is packed in Python.
    """
    n, k = values.shape
    template = np.frombuffer(b"".join(_bulk(f) + b"$9\r\n" + bytes(9) + b"\r\n" for f in fields), "u1")
    cells = np.tile(template.reshape(k, 25), (n, 1, 1))
    cells[:, :, 14] = DOUBLE_VAL_TAG
    cells[:, :, 15:23] = np.ascontiguousarray(values, dtype="<f8").view("u1").reshape(n, k, 8)
    raw = cells.tobytes()
    width = 25 * k
    bodies = [raw[start : start + width] for start in range(0, len(raw), width)]
    for row in np.flatnonzero(np.isnan(values).any(axis=1)):
        bodies[row] = b"".join(
            _bulk(field)
            + (_EMPTY_BULK if np.isnan(value) else _bulk(b"%c" % DOUBLE_VAL_TAG + struct.pack("<d", value)))
            for field, value in zip(fields, values[row], strict=True)
        )
    return bodies


def _kept(keys: list[bytes], newer: list[bool]) -> list[bytes]:
    return [key for key, write in zip(keys, newer, strict=True) if write]


def _send(client, commands: list[bytes], replies_per_command: int) -> list:
    """Pipeline pre-packed commands on one connection of the client's pool: their replies; raise if
    Redis refused any."""
    if not commands:
        return []
    connection = client.connection_pool.get_connection()
    try:
        buffers = [b"".join(commands[i : i + 2_000]) for i in range(0, len(commands), 2_000)]
        connection.send_packed_command(buffers, check_health=True)
        replies, errors = [], []
        for _ in range(len(commands) * replies_per_command):
            try:
                replies.append(connection.read_response())
            except redis_errors.ResponseError as error:
                errors.append(error)
        if errors:
            raise DataError(f"Redis refused {len(errors)} commands of the online load: {errors[0]}")
        return replies
    finally:
        client.connection_pool.release(connection)


_PARSED: dict[bytes, int] = {}


def _stored_nanos(serialized: bytes) -> int:
    if serialized not in _PARSED:
        stamp = Timestamp()
        stamp.ParseFromString(serialized)
        _PARSED[serialized] = stamp.seconds * 10**9 + stamp.nanos
    return _PARSED[serialized]


def window(view: FeatureView, latest: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The [start, end] `feast_io.materialize_latest` materialises for `latest` (naive UTC)."""
    return latest - view.ttl, latest + pd.Timedelta(days=1)


def load_frame_latest(
    store: FeatureStore, view_name: str, frame: pd.DataFrame, latest: pd.Timestamp
) -> OnlineLoad:
    """`latest_rows` of `frame` in the view's window at `latest`, written by `write_latest`; logged."""
    start, end = window(store.get_feature_view(view_name), latest)
    rows = latest_rows(frame, start, end)
    load = write_latest(store, view_name, rows)
    in_window = int(((frame[EVENT_TIMESTAMP] >= start) & (frame[EVENT_TIMESTAMP] <= end)).sum())
    load = OnlineLoad(in_window, load.accounts, load.written, load.online_store, load.seconds)
    logger.info(
        "online store (%s): %d rows in [%s, %s] -> %d accounts, %d written in %.1f s (%.0f accounts/s)",
        load.online_store,
        in_window,
        start.date(),
        end.date(),
        load.accounts,
        load.written,
        load.seconds,
        load.accounts / max(load.seconds, 1e-9),
    )
    return load


__all__ = [
    "OnlineLoad",
    "latest_rows",
    "write_latest",
    "load_frame_latest",
    "entity_keys",
    "value_blobs",
    "value_texts",
    "window",
]
