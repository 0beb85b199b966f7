"""Loading the latest features of N accounts online: Feast's `materialize` against the fast path
(`components.store.online_load`), on SQLite and on Redis, side by side in one run.

    BENCH_ONLINE_ACCOUNTS=1000000 .venv/bin/pytest -s tests/benchmarks/test_bench_online_store.py

N (``BENCH_ONLINE_ACCOUNTS``, default 100k) accounts at two month-ends, every feature of the
contract. `materialize` runs on at most ``BENCH_ONLINE_MATERIALIZE_ACCOUNTS`` (default 20k: it runs
at ~1.6k accounts/s and holds a proto per value) and its rate is the ratio's denominator. Each path
runs in a forked child, so its peak RSS is its own; ``load`` is the 1-minute load average as it
ended (other jobs slow every path: compare rates at like loads). Redis paths are skipped without a
Redis at ``BENCH_REDIS`` (default 127.0.0.1:6379); their keys live under a project of their own,
deleted after.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from components.config.feast import feature_store
from components.config.settings import Settings
from components.store.feast_io import load_latest_online, materialize_latest
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from feature_repo.store import apply_definitions
from tests.serving_world import make_features

ACCOUNTS = int(os.environ.get("BENCH_ONLINE_ACCOUNTS", 100_000))
MATERIALIZE_ACCOUNTS = min(ACCOUNTS, int(os.environ.get("BENCH_ONLINE_MATERIALIZE_ACCOUNTS", 20_000)))
REDIS = os.environ.get("BENCH_REDIS", "127.0.0.1:6379")


def features(n: int) -> pd.DataFrame:
    frame = make_features(n)
    frame[ENTITY_KEY] = np.tile([f"acc-{i:07d}" for i in range(n)], 2)
    return frame


def run(path: str, store_kind: str, n: int, root, project: str, queue) -> None:
    settings = Settings(data_root=root, online_store=store_kind, redis_connection_string=REDIS)
    frame = features(n)
    settings.layout.features.mkdir(parents=True)
    frame.to_parquet(settings.layout.features / "part-0.parquet", index=False)
    store = feature_store(settings)
    store.config.project = project
    apply_definitions(store)
    latest = frame[EVENT_TIMESTAMP].max()
    start = time.perf_counter()
    if path == "materialize":
        materialize_latest(store, latest)
    else:
        load_latest_online(store, settings.layout, latest)
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def redis_up() -> bool:
    import redis

    host, port = REDIS.split(",")[0].split(":")
    try:
        return bool(redis.Redis(host=host, port=int(port), socket_connect_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def test_fast_online_load_against_materialize(tmp_path):
    context = multiprocessing.get_context("fork")
    stores = ["sqlite"] + (["redis"] if redis_up() else [])
    results = []
    for store_kind in stores:
        for path, n in (("materialize", MATERIALIZE_ACCOUNTS), ("fast", ACCOUNTS)):
            project = f"bench_{uuid.uuid4().hex[:8]}"
            queue = context.Queue()
            child = context.Process(
                target=run, args=(path, store_kind, n, tmp_path / f"{store_kind}-{path}", project, queue)
            )
            child.start()
            seconds, peak_mb = queue.get()
            child.join()
            load = os.getloadavg()[0]
            if store_kind == "redis":
                import redis

                host, port = REDIS.split(",")[0].split(":")
                client = redis.Redis(host=host, port=int(port))
                for keys in _batched(client.scan_iter(match=b"*" + project.encode(), count=10_000)):
                    client.delete(*keys)
            results.append((store_kind, path, n, seconds, n / seconds, peak_mb, load))
    widths = (7, 12, 9, 8, 11, 8, 6, 5)
    header = ("store", "path", "accounts", "seconds", "accounts/s", "peak MB", "ratio", "load")
    print("\n" + " ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for store_kind, path, n, seconds, rate, peak_mb, load in results:
        base = next(r[4] for r in results if r[0] == store_kind and r[1] == "materialize")
        cells = (
            store_kind,
            path,
            n,
            f"{seconds:.1f}",
            f"{rate:.0f}",
            f"{peak_mb:.0f}",
            f"{rate / base:.1f}x",
            f"{load:.1f}",
        )
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    for store_kind in stores:
        fast, base = (
            next(r[4] for r in results if r[:2] == (store_kind, p)) for p in ("fast", "materialize")
        )
        assert fast > 3 * base, f"the fast path on {store_kind} is not much faster than materialize"
    if "redis" not in stores:
        pytest.skip(f"no Redis at {REDIS}: SQLite only")


def _batched(keys, size: int = 10_000):
    batch = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
