"""The prediction log: Parquet files rolled by time in a documented schema, and a real Redis stream."""

from __future__ import annotations

import asyncio

import orjson
import pyarrow.dataset
import pytest

from inference.cache import redis_client
from inference.prediction_log import SCHEMA, FeedRecord, PredictionLog

REDIS = "127.0.0.1:6379,db=7"  # this module's own database, emptied first


def record(n: int, k: int = 2) -> FeedRecord:
    return FeedRecord(
        f"r-{n}", f"u-{n}", "treatment", "3", "2021-06-30", 1_800_000_000.0 + n, False,
        [f"acc-{n}-{i}" for i in range(k)], [1.0 / (i + 1) for i in range(k)],
    )  # fmt: skip


def test_a_flush_writes_one_file_per_roll_in_the_schema(tmp_path):
    log = PredictionLog(tmp_path / "predictions", roll_seconds=60)
    for n in range(3):
        log.append(record(n))
    first = log.flush()
    log.append(record(3, k=1))
    second = log.flush()
    assert first != second and first.parent.name.startswith("date=") and log.flush() is None
    table = pyarrow.dataset.dataset(tmp_path / "predictions", partitioning="hive").to_table()
    assert table.schema.remove(table.schema.get_field_index("date")).equals(SCHEMA)
    rows = table.to_pandas().sort_values(["request_id", "rank"])
    assert rows["request_id"].tolist() == ["r-0", "r-0", "r-1", "r-1", "r-2", "r-2", "r-3"]
    assert rows["rank"].tolist() == [1, 2, 1, 2, 1, 2, 1]
    assert rows["score"].tolist() == [1.0, 0.5, 1.0, 0.5, 1.0, 0.5, 1.0]
    assert str(rows["served_at"].iloc[0].tz) == "UTC"


def test_the_background_writer_rolls_by_time(tmp_path):
    log = PredictionLog(tmp_path / "predictions", roll_seconds=0.05)

    async def serve_a_while():
        log.start()
        log.append(record(0))
        await asyncio.sleep(0.3)
        log.append(record(1))
        await asyncio.sleep(0.3)
        log.close()

    asyncio.run(serve_a_while())
    files = sorted((tmp_path / "predictions").rglob("*.parquet"))
    assert len(files) == 2
    assert not list((tmp_path / "predictions").rglob("*.tmp"))


def test_an_unwritable_directory_loses_the_batch_but_not_the_server(tmp_path):
    (tmp_path / "predictions").write_text("a file where the directory should be")
    log = PredictionLog(tmp_path / "predictions", roll_seconds=60)
    log.append(record(0))
    assert log.flush() is None


@pytest.fixture
def redis():
    client = redis_client(REDIS)
    try:
        client.flushdb()
    except Exception:
        pytest.skip("Redis on 127.0.0.1:6379 is needed for the stream")
    return client


def test_feeds_go_to_the_redis_stream_too(tmp_path, redis):
    log = PredictionLog(tmp_path / "predictions", roll_seconds=60, redis=redis, stream="skillrank:feeds")
    log.append(record(0, k=3))
    log.append(record(1))
    log.flush()
    entries = redis.xrange("skillrank:feeds")
    assert len(entries) == 2
    first = {key.decode(): value.decode() for key, value in entries[0][1].items()}
    assert first["request_id"] == "r-0" and first["arm"] == "treatment" and first["model_version"] == "3"
    assert orjson.loads(first["account_ids"]) == ["acc-0-0", "acc-0-1", "acc-0-2"]
    assert orjson.loads(first["ranks"]) == [1, 2, 3]
    assert orjson.loads(first["scores"]) == pytest.approx([1.0, 0.5, 1 / 3])


def test_a_stream_that_cannot_be_reached_leaves_the_parquet_file(tmp_path):
    unreachable = redis_client("127.0.0.1:1")
    log = PredictionLog(tmp_path / "predictions", roll_seconds=60, redis=unreachable, stream="s")
    log.append(record(0))
    assert log.flush().exists()
