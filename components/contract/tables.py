"""The platform data contract (docs/DATA_CONTRACT.md) as code: tables, columns and their types."""

from __future__ import annotations

import pyarrow as pa

# Columns each table must have, with the type skillrank reads them as. Extra columns are ignored.
TABLES: dict[str, dict[str, pa.DataType]] = {
    "accounts": {
        "account_id": pa.string(),
        "opened_at": pa.date32(),
        "closed_at": pa.date32(),
        "country": pa.string(),
    },
    "trades": {
        "trade_id": pa.string(),
        "account_id": pa.string(),
        "ts": pa.timestamp("us"),
        "symbol": pa.string(),
        "side": pa.string(),
        "qty": pa.float64(),
        "price": pa.float64(),
        "fee": pa.float64(),
    },
    "snapshots": {
        "account_id": pa.string(),
        "date": pa.date32(),
        "equity": pa.float64(),
        "cash": pa.float64(),
        "net_deposit": pa.float64(),
    },
    "market": {"date": pa.date32(), "symbol": pa.string(), "close": pa.float64()},
    "sectors": {"symbol": pa.string(), "sector": pa.string()},
    "truth": {"account_id": pa.string(), "skill": pa.float64(), "archetype": pa.string()},
}

REQUIRED_TABLES = ("accounts", "trades", "snapshots", "market", "sectors")
OPTIONAL_TABLES = ("truth",)
INDEX_SYMBOL = "SPX"
INDEX_SECTOR = "Index"


def empty_table(name: str) -> pa.Table:
    """An empty Arrow table with the contract's schema for `name`."""
    return pa.schema(TABLES[name]).empty_table()
