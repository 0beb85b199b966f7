"""The prediction log: every served feed, for monitoring's proxy labels, written off the request path.

A request only appends its `FeedRecord` to memory (`PredictionLog.append`); a background task writes
what has gathered every ``roll_seconds`` as one Parquet file, and, when a stream is configured, adds
each feed to a Redis stream. Files are hive-partitioned by UTC date, one per roll and worker::

    <data root>/predictions/date=2026-11-02/part-20261102T101500Z-<pid>-<n>.parquet

One row per investor shown (`SCHEMA`, shared with its reader in `components.scoring.prediction_log`):
the request's fields repeat on each of its rows, so a reader joins the shown accounts with what they
did next without unnesting. A Redis stream entry holds one feed: its request fields, and
``account_ids``, ``ranks`` and ``scores`` as JSON lists.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from components.scoring.prediction_log import PREDICTION_LOG_SCHEMA as SCHEMA
from inference import metrics

logger = logging.getLogger(__name__)

MAX_BUFFERED_FEEDS = 200_000  # beyond this (a sink down for long) the oldest feeds are dropped, and counted
STREAM_MAX_LENGTH = 1_000_000  # entries a Redis stream keeps (approximately)


@dataclass(frozen=True)
class FeedRecord:
    """One served feed, as the log keeps it."""

    request_id: str
    viewer_id: str | None
    arm: str
    model_version: str | None
    as_of_date: str | None
    served_at: float  # Unix time
    degraded: bool
    account_ids: list[str]
    scores: list[float | None]


class PredictionLog:
    """Feeds gathered in memory and written every `roll_seconds` (Parquet, and a Redis stream if given).

    Args:
        directory: Where the Parquet files go (the layout's ``prediction_log``).
        roll_seconds: How often a file is written.
        redis: A Redis client for the stream (None: Parquet only).
        stream: The Redis stream's key.
    """

    def __init__(self, directory: Path, roll_seconds: float, redis=None, stream: str | None = None):
        self.directory = Path(directory)
        self.roll_seconds = roll_seconds
        self.redis = redis
        self.stream = stream
        self._buffer: collections.deque[FeedRecord] = collections.deque(maxlen=MAX_BUFFERED_FEEDS)
        self._files = 0
        self._task: asyncio.Task | None = None

    def append(self, record: FeedRecord) -> None:
        """Keep `record` for the next write (constant time; the request never waits for a sink)."""
        if len(self._buffer) == self._buffer.maxlen:
            metrics.LOGGED_FEEDS.labels("memory", "dropped").inc()
        self._buffer.append(record)

    def start(self) -> None:
        """Write in the background of the running event loop, once (in each worker)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.roll_seconds)
            await asyncio.to_thread(self.flush)

    def flush(self) -> Path | None:
        """Write what has gathered; returns the Parquet file written (None when there was nothing)."""
        records = []
        while self._buffer:
            records.append(self._buffer.popleft())
        if not records:
            return None
        path = self._write_parquet(records)
        if self.redis is not None and self.stream:
            self._add_to_stream(records)
        return path

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
        self.flush()

    def _write_parquet(self, records: list[FeedRecord]) -> Path | None:
        now = datetime.now(UTC)
        self._files += 1
        folder = self.directory / f"date={now.date().isoformat()}"
        path = folder / f"part-{now:%Y%m%dT%H%M%SZ}-{os.getpid()}-{self._files}.parquet"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            pq.write_table(records_table(records), temporary)
            temporary.rename(path)  # a reader never sees half a file
        except OSError as e:
            metrics.LOGGED_FEEDS.labels("parquet", "failed").inc(len(records))
            logger.warning("cannot write the prediction log to %s: %s", path, e)
            return None
        metrics.LOGGED_FEEDS.labels("parquet", "written").inc(len(records))
        return path

    def _add_to_stream(self, records: list[FeedRecord]) -> None:
        try:
            pipeline = self.redis.pipeline(transaction=False)
            for record in records:
                pipeline.xadd(self.stream, stream_fields(record), maxlen=STREAM_MAX_LENGTH, approximate=True)
            pipeline.execute()
        except Exception as e:  # redis.RedisError, a connection refused: Parquet still has them
            metrics.LOGGED_FEEDS.labels("redis", "failed").inc(len(records))
            logger.warning("cannot add %d feeds to the Redis stream %s: %s", len(records), self.stream, e)
            return
        metrics.LOGGED_FEEDS.labels("redis", "written").inc(len(records))


def records_table(records: list[FeedRecord]) -> pa.Table:
    """The long table of `records`: one row per investor shown, in `SCHEMA`.

    Example:
        >>> record = FeedRecord("r1", "u-1", "treatment", "3", "2021-06-30", 0.0, False, ["a", "b"], [0.9, 0])
        >>> records_table([record]).to_pydict()["rank"]
        [1, 2]
    """
    columns = {name: [] for name in SCHEMA.names}
    for r in records:
        n = len(r.account_ids)
        served = datetime.fromtimestamp(r.served_at, UTC)
        as_of = None if r.as_of_date is None else datetime.fromisoformat(r.as_of_date).date()
        for name, value in (
            ("request_id", r.request_id),
            ("viewer_id", r.viewer_id),
            ("arm", r.arm),
            ("model_version", r.model_version),
            ("as_of_date", as_of),
            ("served_at", served),
            ("degraded", r.degraded),
        ):
            columns[name].extend([value] * n)
        columns["rank"].extend(range(1, n + 1))
        columns["account_id"].extend(r.account_ids)
        columns["score"].extend(r.scores)
    return pa.table(columns, schema=SCHEMA)


def stream_fields(record: FeedRecord) -> dict[str, str]:
    """One feed as the fields of a Redis stream entry (lists as JSON, missing values as empty strings).

    Example:
        >>> stream_fields(FeedRecord("r1", None, "none", "3", None, 1.5, False, ["a"], [0.5]))["account_ids"]
        '["a"]'
    """
    return {
        "request_id": record.request_id,
        "viewer_id": record.viewer_id or "",
        "arm": record.arm,
        "model_version": record.model_version or "",
        "as_of_date": record.as_of_date or "",
        "served_at": repr(record.served_at),
        "degraded": "1" if record.degraded else "0",
        "account_ids": orjson.dumps(record.account_ids).decode(),
        "ranks": orjson.dumps(list(range(1, len(record.account_ids) + 1))).decode(),
        "scores": orjson.dumps(record.scores).decode(),
    }


def now() -> float:
    """Unix time, for `FeedRecord.served_at`."""
    return time.time()
