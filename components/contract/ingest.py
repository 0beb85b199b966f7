"""Ingest + validate: split each contract table into clean rows and quarantined rows with a reason.

Input rows = clean + quarantined, per table, always; the counts are written next to the clean tables
and checked before the step returns. The source directory is only read.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from components.config.layout import DataLayout
from components.contract.reader import read_source
from components.contract.tables import TABLES

# A rule is (reason, predicate): the predicate marks the rows it rejects, given the table and the
# already-clean reference tables. Rules run in order and a row gets the reason of the first rule that
# rejects it, so every quarantined row has exactly one reason.
Rule = tuple[str, Callable[[pd.DataFrame, dict[str, pd.DataFrame]], pd.Series]]

SIDES = ("buy", "sell")


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype("string").str.strip() == "")


def _not_positive(values: pd.Series) -> pd.Series:
    numbers = values.astype(float)
    return ~(np.isfinite(numbers) & (numbers > 0))


def _not_finite(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return ~np.isfinite(frame[columns].astype(float)).all(axis=1)


def _unknown_account(frame: pd.DataFrame, ref: dict[str, pd.DataFrame]) -> pd.Series:
    return ~frame["account_id"].isin(ref["accounts"]["account_id"])


def _outside_open_period(frame: pd.DataFrame, ref: dict[str, pd.DataFrame]) -> pd.Series:
    accounts = ref["accounts"].set_index("account_id")
    opened = frame["account_id"].map(accounts["opened_at"])
    closed = frame["account_id"].map(accounts["closed_at"])
    return (frame["date"] < opened) | (closed.notna() & (frame["date"] > closed))


RULES: dict[str, list[Rule]] = {
    "market": [
        ("missing date or symbol", lambda f, r: f["date"].isna() | _blank(f["symbol"])),
        ("non-positive or missing close", lambda f, r: _not_positive(f["close"])),
        ("duplicate (date, symbol)", lambda f, r: f.duplicated(["date", "symbol"])),
    ],
    "sectors": [
        ("missing symbol or sector", lambda f, r: _blank(f["symbol"]) | _blank(f["sector"])),
        ("duplicate symbol", lambda f, r: f.duplicated(["symbol"])),
    ],
    "accounts": [
        ("missing account_id", lambda f, r: _blank(f["account_id"])),
        ("missing opened_at", lambda f, r: f["opened_at"].isna()),
        ("duplicate account_id", lambda f, r: f.duplicated(["account_id"])),
        ("closed before opened", lambda f, r: f["closed_at"].notna() & (f["closed_at"] < f["opened_at"])),
    ],
    "trades": [
        ("missing trade_id", lambda f, r: _blank(f["trade_id"])),
        ("duplicate trade_id", lambda f, r: f.duplicated(["trade_id"])),
        ("unknown account", _unknown_account),
        ("missing timestamp", lambda f, r: f["ts"].isna()),
        ("unknown symbol", lambda f, r: ~f["symbol"].isin(r["market"]["symbol"])),
        ("unknown side", lambda f, r: ~f["side"].isin(SIDES)),
        ("non-positive or missing qty", lambda f, r: _not_positive(f["qty"])),
        ("non-positive or missing price", lambda f, r: _not_positive(f["price"])),
        ("negative or missing fee", lambda f, r: ~(f["fee"] >= 0).fillna(False)),
    ],
    "snapshots": [
        ("unknown account", _unknown_account),
        ("missing date", lambda f, r: f["date"].isna()),
        ("missing or non-finite value", lambda f, r: _not_finite(f, ["equity", "cash", "net_deposit"])),
        ("duplicate (account_id, date)", lambda f, r: f.duplicated(["account_id", "date"])),
        ("not a trading day", lambda f, r: ~f["date"].isin(r["market"]["date"])),
        ("outside the account's open period", _outside_open_period),
    ],
    "truth": [
        ("unknown account", _unknown_account),
        ("duplicate account_id", lambda f, r: f.duplicated(["account_id"])),
    ],
}

# Reference tables are validated before the tables that are checked against them.
INGEST_ORDER = ("market", "sectors", "accounts", "trades", "snapshots", "truth")


def ingest(source: Path, layout: DataLayout) -> dict[str, dict]:
    """Validate every table of `source`, write clean and quarantined rows under the data root.

    Args:
        source: A directory in the data contract. Never written to.
        layout: Where clean/ and quarantine/ go.

    Returns:
        Per table: input, clean and quarantined row counts and the count per reason.

    Raises:
        ContractError: the source breaks the contract; nothing has been written.
    """
    tables = read_source(source)  # contract errors surface here, before any write
    frames = {name: to_pandas(table) for name, table in tables.items()}
    clean: dict[str, pd.DataFrame] = {}
    quarantined: dict[str, pd.DataFrame] = {}
    for name in (n for n in INGEST_ORDER if n in frames):
        clean[name], quarantined[name] = split_rows(frames[name], RULES[name], clean)
    reconciliation = reconcile(frames, clean, quarantined)
    write_outputs(layout, clean, quarantined, reconciliation)
    return reconciliation


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas, keeping strings Arrow-backed (millions of rows) and dates as datetime64."""
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    for column, dtype in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_date(dtype):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def split_rows(
    frame: pd.DataFrame, rules: list[Rule], reference: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply `rules` in order; return (clean rows, rejected rows with a `reason` column)."""
    reason = pd.Series(pd.NA, index=frame.index, dtype="string")
    for text, rejects in rules:
        pending = reason.isna()
        if not pending.any():
            break
        # Rules see only rows no earlier rule rejected, so "duplicate" keeps the first *valid* row.
        hit = rejects(frame[pending], reference).fillna(True).astype(bool)
        reason[hit[hit].index] = text
    rejected = reason.notna()
    return frame[~rejected].reset_index(drop=True), frame[rejected].assign(
        reason=reason[rejected]
    ).reset_index(drop=True)


def reconcile(
    frames: dict[str, pd.DataFrame], clean: dict[str, pd.DataFrame], quarantined: dict[str, pd.DataFrame]
) -> dict[str, dict]:
    """Counts per table; raises if any input row is neither clean nor quarantined."""
    counts = {}
    for name, frame in frames.items():
        entry = {
            "input": len(frame),
            "clean": len(clean[name]),
            "quarantined": len(quarantined[name]),
            "reasons": quarantined[name]["reason"].value_counts().astype(int).to_dict(),
        }
        if entry["input"] != entry["clean"] + entry["quarantined"]:
            raise AssertionError(f"ingest lost rows of table '{name}': {entry}")
        counts[name] = entry
    return counts


def write_outputs(
    layout: DataLayout,
    clean: dict[str, pd.DataFrame],
    quarantined: dict[str, pd.DataFrame],
    reconciliation: dict[str, dict],
) -> None:
    """Replace clean/ and quarantine/ under the data root with this run's tables and counts."""
    for name in clean:
        write_parquet(clean[name], layout.clean(name), pa.schema(TABLES[name]))
        schema = pa.schema(TABLES[name]).append(pa.field("reason", pa.string()))
        write_parquet(quarantined[name], layout.quarantine(name), schema)
    layout.reconciliation.write_text(json.dumps(reconciliation, indent=2, default=str))


def write_parquet(frame: pd.DataFrame, folder: Path, schema: pa.Schema) -> None:
    """Write `frame` as the single part file of `folder`, with the given Arrow schema."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, folder / "part-0.parquet")
