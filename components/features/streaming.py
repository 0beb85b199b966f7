"""Fresh features by Spark Structured Streaming: trade and snapshot events -> Feast push source -> online.

The job reads events as they arrive (by default Parquet files dropped under ``<data root>/events/trades/``,
with the columns of the contract's ``trades/``, and ``events/snapshots/``: account_id, ts, equity, cash,
net_deposit; Kafka topics ``trades`` and ``snapshots`` with ``stream_source: kafka``),
keeps each account's activity since its last daily snapshot (the batch ``clean/snapshots/``) and, after
every micro-batch, pushes the accounts it touched to the online store through the push source of
`feature_repo.definitions` (``account_intraday_push``):

- ``intraday_trades`` and ``intraday_notional``: trades, and their notional, dated after the snapshot day;
- ``intraday_equity`` and ``intraday_return``: the latest snapshot event's equity, and its flow-adjusted
  return over the daily snapshot, ``equity / (daily equity + net deposits since) - 1`` (the contract's
  formula, over the hours since).

Exactly the values a batch recomputation over the same events gives (`intraday_batch`), whatever the
job's restarts: a trade counts once by its ``trade_id`` and a snapshot event by (account, time) — Spark
drops repeats within the watermark; offsets and the per-account state live in the checkpoint
(``<data root>/checkpoints/intraday``), so a restarted job resumes after the last committed micro-batch
and replays the one it may have been killed in; a replayed push rewrites the same values for the same
accounts (the online store keeps one row per account). Events older than the watermark behind the newest
event are dropped, as late data is in any streaming job; the next daily batch covers them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampNTZType

from components.config.feast import feature_store
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.console import configure_logging
from components.errors import DataError
from components.features.spark import spark_session
from feature_repo.definitions import account_intraday_push, intraday_definitions
from feature_repo.feature_schema import ENTITY_KEY, INTRADAY_FEATURES, INTRADAY_TIMESTAMP

logger = logging.getLogger(__name__)

TRADE_EVENTS = StructType(
    [
        StructField("trade_id", StringType()),
        StructField(ENTITY_KEY, StringType()),
        StructField("ts", TimestampNTZType()),
        StructField("symbol", StringType()),
        StructField("side", StringType()),
        StructField("qty", DoubleType()),
        StructField("price", DoubleType()),
        StructField("fee", DoubleType()),
    ]
)
SNAPSHOT_EVENTS = StructType(
    [
        StructField(ENTITY_KEY, StringType()),
        StructField("ts", TimestampNTZType()),
        StructField("equity", DoubleType()),
        StructField("cash", DoubleType()),
        StructField("net_deposit", DoubleType()),
    ]
)
WATERMARK = "2 days"  # how late an event may arrive and still count (and how long its id is remembered)
KAFKA_TOPICS = {"trades": TRADE_EVENTS, "snapshots": SNAPSHOT_EVENTS}


def read_events(
    spark: SparkSession, layout: DataLayout, settings: Settings, max_files: int | None
) -> DataFrame:
    """The stream of trade and snapshot events in one shape: account, time, id, notional, equity, deposits."""
    if settings.stream_source == "kafka":
        trades, snapshots = kafka_events(spark, settings)
    else:
        trades, snapshots = file_events(spark, layout, max_files)
    return unify(trades, snapshots)


def file_events(
    spark: SparkSession, layout: DataLayout, max_files: int | None
) -> tuple[DataFrame, DataFrame]:
    """The Parquet files under ``events/trades/`` and ``events/snapshots/``, in order of arrival."""
    frames = []
    for name, schema in KAFKA_TOPICS.items():
        folder = layout.stream_events / name
        folder.mkdir(parents=True, exist_ok=True)
        reader = spark.readStream.schema(schema)
        if max_files:
            reader = reader.option("maxFilesPerTrigger", max_files)
        frames.append(reader.parquet(str(folder)))
    return frames[0], frames[1]


def kafka_events(spark: SparkSession, settings: Settings) -> tuple[DataFrame, DataFrame]:
    """The Kafka topics ``trades`` and ``snapshots`` (JSON values) at ``stream_kafka_servers``.

    Raises:
        DataError: No Kafka servers are configured.
    """
    if not settings.stream_kafka_servers:
        raise DataError(
            "stream_source is kafka but stream_kafka_servers is not set (SKILLRANK_STREAM_KAFKA_SERVERS)"
        )
    frames = []
    for topic, schema in KAFKA_TOPICS.items():
        raw = (
            spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", settings.stream_kafka_servers)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .load()
        )
        value = F.from_json(F.col("value").cast("string"), schema)
        frames.append(raw.select(value.alias("event")).select("event.*"))
    return frames[0], frames[1]


def unify(trades: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Trades and snapshot events as rows of one table, each with the id that makes it count once.

    Event times are naive exchange-local, as the contract's ``trades/ts``; they are read as such and
    taken at the session's UTC, as the batch job takes them.
    """
    null = F.lit(None).cast("double")
    trades = trades.withColumn("ts", F.col("ts").cast("timestamp"))
    snapshots = snapshots.withColumn("ts", F.col("ts").cast("timestamp"))
    trade_rows = trades.select(
        ENTITY_KEY,
        "ts",
        F.concat(F.lit("trade:"), "trade_id").alias("event_id"),
        (F.abs("qty") * F.col("price")).alias("notional"),
        null.alias("equity"),
        null.alias("net_deposit"),
    )
    snapshot_rows = snapshots.select(
        ENTITY_KEY,
        "ts",
        F.concat(F.lit("snapshot:"), ENTITY_KEY, F.lit("@"), F.col("ts").cast("string")).alias("event_id"),
        null.alias("notional"),
        "equity",
        "net_deposit",
    )
    return trade_rows.unionByName(snapshot_rows)


def last_daily_snapshots(spark: SparkSession, layout: DataLayout) -> DataFrame:
    """Each account's latest daily snapshot in ``clean/snapshots/``: its date, equity and net deposits.

    Raises:
        DataError: There is no clean snapshot table (run ingest first).
    """
    path = layout.clean("snapshots")
    if not path.exists():
        raise DataError(f"no daily snapshots at {path}: run the batch pipeline (skillrank run) first")
    daily = spark.read.parquet(str(path))
    latest = F.max_by(F.struct("equity", "net_deposit"), "date")
    return (
        daily.groupBy(ENTITY_KEY)
        .agg(F.max("date").alias("daily_date"), latest.alias("daily"))
        .select(
            ENTITY_KEY,
            "daily_date",
            F.col("daily.equity").alias("daily_equity"),
            F.col("daily.net_deposit").alias("daily_net_deposit"),
        )
    )


def since_daily(events: DataFrame, daily: DataFrame) -> DataFrame:
    """The events dated after their account's last daily snapshot day (the snapshot covers that day)."""
    joined = events.join(F.broadcast(daily), ENTITY_KEY, "inner")
    return joined.where(F.to_date("ts") > F.col("daily_date"))


def aggregate(events: DataFrame) -> DataFrame:
    """Per account: its trades and notional, its latest snapshot event, its latest event time."""
    is_snapshot = F.col("equity").isNotNull()
    latest = F.max(F.when(is_snapshot, F.struct("ts", "equity", "net_deposit")))
    return events.groupBy(ENTITY_KEY, "daily_equity", "daily_net_deposit").agg(
        F.count("notional").alias("intraday_trades"),
        F.coalesce(F.sum("notional"), F.lit(0.0)).alias("intraday_notional"),
        latest.alias("latest"),
        F.max("ts").alias(INTRADAY_TIMESTAMP),
    )


def features(state: DataFrame) -> DataFrame:
    """The `INTRADAY_FEATURES` of each aggregated account, as the push source takes them."""
    equity = F.col("latest.equity")
    base = F.col("daily_equity") + (F.col("latest.net_deposit") - F.col("daily_net_deposit"))
    intraday_return: Column = F.try_divide(equity, base) - F.lit(1.0)
    return state.select(
        ENTITY_KEY,
        F.col(INTRADAY_TIMESTAMP),
        F.col("intraday_trades").cast("double").alias("intraday_trades"),
        F.col("intraday_notional").cast("double").alias("intraday_notional"),
        equity.alias("intraday_equity"),
        F.when(base > 0, intraday_return).alias("intraday_return"),
    )


def intraday_batch(spark: SparkSession, layout: DataLayout) -> pd.DataFrame:
    """The same features recomputed in one batch over every event file: what the stream must converge to."""
    trades = spark.read.schema(TRADE_EVENTS).parquet(str(layout.stream_events / "trades"))
    snapshots = spark.read.schema(SNAPSHOT_EVENTS).parquet(str(layout.stream_events / "snapshots"))
    events = unify(trades, snapshots).dropDuplicates(["event_id"])
    frame = features(aggregate(since_daily(events, last_daily_snapshots(spark, layout)))).toPandas()
    return frame.sort_values(ENTITY_KEY).reset_index(drop=True)


def push_batch(settings: Settings):
    """The foreachBatch function: push one micro-batch's updated accounts to the online store."""
    store = feature_store(settings)

    def push(batch: DataFrame, batch_id: int) -> None:
        frame = batch.toPandas()
        if frame.empty:
            return
        frame[INTRADAY_TIMESTAMP] = pd.to_datetime(frame[INTRADAY_TIMESTAMP], utc=True)
        store.push(account_intraday_push.name, frame[[ENTITY_KEY, INTRADAY_TIMESTAMP, *INTRADAY_FEATURES]])
        logger.info("micro-batch %d: pushed %d accounts' intraday features", batch_id, len(frame))

    return push


def start_stream(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, max_files: int | None = None
) -> StreamingQuery:
    """Register the intraday declarations with Feast and start the checkpointed query.

    Args:
        spark: The session the query runs in.
        settings: The data root, the online store, the event source and the trigger interval.
        available_now: Process what has arrived and stop (else: a micro-batch every
            ``stream_trigger_seconds``).
        max_files: At most this many new files per micro-batch (file source).
    """
    layout = settings.layout
    feature_store(settings).apply(intraday_definitions(layout.root))
    events = read_events(spark, layout, settings, max_files).withWatermark("ts", WATERMARK)
    unique = events.dropDuplicatesWithinWatermark(["event_id"])
    state = features(aggregate(since_daily(unique, last_daily_snapshots(spark, layout))))
    writer = (
        state.writeStream.outputMode("update")
        .option("checkpointLocation", str(layout.stream_checkpoint))
        .foreachBatch(push_batch(settings))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{settings.stream_trigger_seconds} seconds")
    return writer.queryName("skillrank-intraday").start()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.features.streaming",
        description="Stream trade and snapshot events into the online store's intraday features.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="YAML settings file")
    parser.add_argument("--data-root", type=Path, help="the data root (default: SKILLRANK_DATA_ROOT)")
    parser.add_argument("--available-now", action="store_true", help="process what has arrived, then stop")
    parser.add_argument("--max-files-per-trigger", type=int, help="new files per micro-batch (file source)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the streaming job until it is stopped (or, with --available-now, until it has caught up)."""
    args = build_parser().parse_args(argv)
    configure_logging()
    settings = Settings.load(args.config, data_root=args.data_root)
    with spark_session("skillrank-intraday", shuffle_partitions=2) as spark:
        query = start_stream(
            spark, settings, available_now=args.available_now, max_files=args.max_files_per_trigger
        )
        query.awaitTermination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
