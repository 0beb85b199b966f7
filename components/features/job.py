"""The Spark feature job: from the clean tables to `features/` and `labels/` per (account, as-of date).

`build_features` reads as the list of its stages: the as-of calendar (`components.features.calendar`),
daily and per-period returns (`components.features.returns`), positions and trades
(`components.features.trading`), the evidence sums (`components.features.evidence`), the post-trade
sums (`components.features.post_trade`), then the feature
panel: trailing windows and feature columns (`components.features.windows`), holdings and the market
context (`components.features.market`) and the forward labels (`components.labels.forward`), joined
on (account_id, period). Each summary is cached once computed, so later stages read it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from components.config.layout import DataLayout
from components.config.settings import Settings
from components.contract.tables import REQUIRED_TABLES, TABLES
from components.errors import DataError, require_columns
from components.features.calendar import (
    AsOfCalendar,
    asof_calendar,
    asof_frame,
    day_frame,
    tail_length,
    trading_day_frames,
)
from components.features.evidence import evidence_features, evidence_sums, universe_levels
from components.features.market import (
    closes_at_asof,
    market_context,
    sector_momentum,
    symbol_sectors,
)
from components.features.post_trade import post_trade_features, post_trade_sums, post_trade_windows
from components.features.returns import daily_returns, index_closes, monthly_returns
from components.features.spark import spark_session
from components.features.trading import (
    KEYS,
    MAIN_SECTOR,
    holdings,
    monthly_positions,
    trade_activity,
    trade_windows,
)
from components.features.windows import (
    HOLDINGS,
    account_grid,
    evidence_and_tail_columns,
    return_columns,
    risk_columns,
    rolled_panel,
    trading_columns,
)
from components.labels.definitions import LABELS
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES

# Progress is one INFO line per stage (each cached summary, each table written) with its row count,
# not a progress bar: the stages are few and of very unequal length (the first count runs most of
# the job), so a bar's rate and ETA would mislead, while a line says what is done and how big it is,
# in a terminal and in a KFP step's log alike.
logger = logging.getLogger(__name__)


def build_features(layout: DataLayout, spark: SparkSession | None = None) -> dict[str, int]:
    """Compute `features/` and `labels/` under `layout` from its clean tables.

    Args:
        layout: Data root; reads ``clean/{accounts,trades,snapshots,market,sectors}`` and writes
            ``features/`` and ``labels/`` (Parquet directories, replaced on every run).
        spark: A running session; when omitted, a local one is started and stopped.

    Returns:
        ``{"rows": ..., "accounts": ..., "as_of_dates": ...}`` of the written feature table.
    """
    if spark is None:
        with spark_session("skillrank-features") as session:
            return build_features(layout, session)
    tables = {name: read_clean(spark, layout, name) for name in REQUIRED_TABLES}
    calendar = asof_calendar(tables)
    logger.info("features: %d as-of dates, %s .. %s", len(calendar.dates), calendar.dates[0], calendar.last)
    days, asof = day_frame(spark, calendar), asof_frame(spark, calendar)
    trading, base_days = trading_day_frames(spark, calendar)
    daily = daily_returns(tables["snapshots"], days, index_closes(tables["market"]))
    monthly = materialise(monthly_returns(daily, tail_length(calendar)), "monthly returns")
    windows = trade_windows(tables["market"], trading)
    positions = materialise(
        monthly_positions(tables["trades"], days, base_days, windows), "monthly positions"
    )
    universe = universe_levels(tables["market"])
    evidence = materialise(evidence_sums(daily, universe), "evidence sums")
    post_trade = materialise(
        post_trade_sums(tables["trades"], base_days, post_trade_windows(tables["market"], trading, universe)),
        "post-trade sums",
    )
    panel = materialise(
        feature_panel(tables, calendar, days, asof, monthly, positions, evidence, post_trade),
        "feature panel",
    )
    counts = panel_counts(panel)
    for columns, texts, path in ((FEATURES, (MAIN_SECTOR,), layout.features), (LABELS, (), layout.labels)):
        write_table(panel, list(columns), path, texts)
        logger.info("features: wrote %s (%d rows)", path, counts["rows"])
    for frame in (panel, post_trade, evidence, positions, monthly):
        frame.unpersist()
    logger.info("features: %d accounts over %d as-of dates", counts["accounts"], counts["as_of_dates"])
    return counts


def feature_panel(
    tables: dict[str, DataFrame],
    calendar: AsOfCalendar,
    days: DataFrame,
    asof: DataFrame,
    monthly: DataFrame,
    positions: DataFrame,
    evidence: DataFrame,
    post_trade: DataFrame,
) -> DataFrame:
    """Every feature and label on the account x as-of grid, keyed by (account_id, period), with as_of,
    and the account's main sector at T (`components.features.trading.MAIN_SECTOR`).

    `evidence` holds the per-period regression sums of `components.features.evidence`: they give the
    since-inception evidence and the 12-month forward label; `post_trade` the per-period sums of
    `components.features.post_trade`, the evidence of trade timing.
    """
    # Imported here: the Spark labels build on this package's modules (the calendar, the return and
    # evidence sums), so a module-level import would make importing them first a cycle.
    from components.labels.forward import forward_alpha_label, forward_labels, next_day_label

    grid = account_grid(tables["accounts"], monthly, asof)
    closes = closes_at_asof(tables["market"], days)
    sectors = symbol_sectors(closes, tables["sectors"])
    held = holdings(positions, closes, sectors, sector_momentum(closes, sectors), calendar.last_period)
    rolled = rolled_panel(grid, monthly, trade_activity(positions), held)
    return (
        rolled.select(
            *KEYS,
            "as_of",
            *return_columns(),
            *risk_columns(),
            *trading_columns(),
            *[F.col(name) for name in (*HOLDINGS, "sector_momentum", "net_deposits")],
            F.array_sort("tail_12m").alias("tail_12m"),
        )
        .select("*", *evidence_and_tail_columns())
        .drop("tail_12m")
        .fillna(0, subset=["n_tickers", "sector_count"])
        .join(F.broadcast(market_context(tables["market"], days, closes)), "period", "left")
        .join(forward_labels(monthly, asof, calendar.last), KEYS, "left")
        .join(next_day_label(monthly, asof), KEYS, "left")
        .join(evidence_features(grid, evidence), KEYS, "left")
        .join(post_trade_features(grid, post_trade), KEYS, "left")
        .join(forward_alpha_label(grid, evidence, calendar.last_period), KEYS, "left")
        .join(held.select(*KEYS, MAIN_SECTOR), KEYS, "left")
    )


def materialise(frame: DataFrame, what: str) -> DataFrame:
    """Cache `frame` and compute it now, so that later queries read it instead of recomputing it."""
    rows = frame.persist().count()
    logger.info("features: %s ready (%d rows)", what, rows)
    return frame


def panel_counts(panel: DataFrame) -> dict[str, int]:
    """Rows, distinct accounts and distinct as-of dates of the feature panel."""
    row = panel.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(ENTITY_KEY).alias("accounts"),
        F.countDistinct("period").alias("as_of_dates"),
    ).first()
    return {key: int(row[key]) for key in ("rows", "accounts", "as_of_dates")}


def read_clean(spark: SparkSession, layout: DataLayout, table: str) -> DataFrame:
    """The contract columns of one clean table (extra columns are dropped).

    Raises:
        DataError: The clean table does not exist (ingest has not run), or lacks required columns;
            the message names the table and the columns.
    """
    path = layout.clean(table)
    if not path.exists():
        raise DataError(f"clean table {table!r} not found at {path}: run the ingest step first")
    frame = spark.read.parquet(str(path))
    require_columns(frame.columns, TABLES[table], f"clean table {table!r} at {path}")
    return frame.select(*TABLES[table])


def write_table(panel: DataFrame, columns: list[str], path: Path, texts: tuple[str, ...] = ()) -> None:
    """Write (account_id, as_of_date timestamp at midnight UTC, `columns` as float64, `texts` as
    strings) to `path`. Feast reads only the declared features of the table: the texts ride beside them."""
    (
        panel.select(
            ENTITY_KEY,
            F.col("as_of").cast("timestamp").alias(EVENT_TIMESTAMP),
            *[F.col(column).cast("double").alias(column) for column in columns],
            *[F.col(column).cast("string").alias(column) for column in texts],
        )
        .sortWithinPartitions(EVENT_TIMESTAMP, ENTITY_KEY)
        .write.mode("overwrite")
        .parquet(str(path))
    )


def main(argv: list[str] | None = None) -> int:
    """Only the feature job, on one data root: what the Spark Operator's driver runs for a pipeline step
    (`components.features.spark_operator`), where `skillrank features` would also ingest and publish."""
    from components.console import configure_logging

    parser = argparse.ArgumentParser(prog="components.features.job", description=main.__doc__)
    parser.add_argument("--data-root", default="", help="data root (default: SKILLRANK_DATA_ROOT)")
    parser.add_argument("--config", default="", help="YAML settings file")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        counts = build_features(Settings.for_step(args.data_root or None, args.config).layout)
    except DataError as e:
        print(f"features: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
