"""The arrow tables of a seeding block of accounts, exactly in ``components.contract.tables.TABLES``.

Account and trade ids are opaque and unique: a salted integer key (global account index; account index
and per-account sequence number) scrambled by the splitmix64 bijection into 16 hex digits.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from components.contract.tables import TABLES
from components.simulator.market import Market
from components.simulator.params import SEQ_BITS, SESSION_SECONDS


def world_tables(world: dict, market: Market, seed: int, keep: np.ndarray) -> dict[str, pa.Table]:
    """The block's accounts, truth, trades (shuffled) and snapshots (rows in `keep`) as contract tables."""
    ids = account_ids(seed, world["offset"] + np.arange(len(world["skill"])))
    return {
        "accounts": accounts_table(world, market, ids),
        "truth": _table("truth", account_id=ids, skill=world["skill"], archetype=world["archetype"]),
        "trades": trades_table(world, market, seed, ids),
        "snapshots": snapshots_table(world, market, ids, keep),
    }


def accounts_table(world: dict, market: Market, ids: pa.Array) -> pa.Table:
    """One row per account: opened_at, closed_at (null while open), country."""
    closed = world["closed_day"]
    return _table(
        "accounts",
        account_id=ids,
        opened_at=_dates(market, world["open_day"]),
        closed_at=pa.array(_epoch_days(market, np.maximum(closed, 0)), pa.date32(), mask=closed < 0),
        country=world["country"],
    )


def trades_table(world: dict, market: Market, seed: int, ids: pa.Array) -> pa.Table:
    """The block's fills as trades, in random order, with opaque unique trade ids."""
    account, qty, rng = world["fill_account"], world["fill_qty"], world["rng_order"]
    keys = (world["offset"] + account).astype(np.uint64) << np.uint64(SEQ_BITS) | per_account_seq(account)
    seconds = rng.integers(*SESSION_SECONDS, len(account)).astype("timedelta64[s]")
    table = _table(
        "trades",
        trade_id=hex_ids("t", keys ^ _salt(seed, 2)),
        account_id=ids.take(account),
        ts=market.days[market.first + world["fill_day"]].astype("datetime64[us]") + seconds,
        symbol=market.symbols[world["fill_symbol"]],
        side=np.where(qty > 0, "buy", "sell"),
        qty=np.abs(qty),
        price=world["fill_price"],
        fee=world["fill_fee"],
    )
    return table.take(rng.permutation(table.num_rows))


def snapshots_table(world: dict, market: Market, ids: pa.Array, keep: np.ndarray) -> pa.Table:
    """End-of-day equity, cash and net deposits per open account and day, rows in `keep` only."""
    equity, cash, net_deposit = (values[keep] for values in world["snapshot_values"])
    return _table(
        "snapshots",
        account_id=ids.take(world["snapshot_account"][keep]),
        date=_dates(market, world["snapshot_day"][keep]),
        equity=equity,
        cash=cash,
        net_deposit=net_deposit,
    )


def per_account_seq(account: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... numbering each account's rows in their current order."""
    order = np.argsort(account, kind="stable")
    sorted_account = account[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_account)) + 1]
    seq = np.empty(len(account), np.uint64)
    seq[order] = np.arange(len(account)) - np.repeat(starts, np.diff(np.r_[starts, len(account)]))
    return seq


def account_ids(seed: int, index: np.ndarray) -> pa.Array:
    """Opaque, unique account ids ("a" + 16 hex digits) of global account indices."""
    return hex_ids("a", index.astype(np.uint64) ^ _salt(seed, 1))


def hex_ids(prefix: str, keys: np.ndarray) -> pa.Array:
    """`prefix` + 16 hex digits of a bijective scramble of `keys`: distinct keys give distinct ids."""
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    octets = splitmix64(keys).astype(">u8").view(np.uint8).reshape(-1, 8)
    nibbles = np.stack([octets >> 4, octets & 15], axis=2).reshape(-1, 16)
    chars = np.hstack([np.full((len(keys), 1), ord(prefix), np.uint8), digits[nibbles]])
    return pa.array(np.ascontiguousarray(chars).view("S17").ravel(), pa.binary()).cast(pa.string())


def splitmix64(keys: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of uint64 that looks random."""
    z = keys.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _salt(seed: int, stream: int) -> np.uint64:
    return np.random.default_rng([seed, 4, stream]).integers(0, 2**63, dtype=np.uint64)


def _epoch_days(market: Market, day: np.ndarray) -> np.ndarray:
    return market.days[market.first + day].astype(np.int64).astype(np.int32)


def _dates(market: Market, day: np.ndarray) -> pa.Array:
    return pa.array(_epoch_days(market, day), pa.date32())


def _table(name: str, **columns) -> pa.Table:
    schema = pa.schema(TABLES[name])
    arrays = [_column(columns[f.name], f.type) for f in schema]
    return pa.table(arrays, schema=schema)


def _column(values, type_: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, type_)


def frame_table(frame, name: str) -> pa.Table:
    """A pandas frame (the market or sectors table) as the contract table `name`, columns in its order."""
    schema = pa.schema(TABLES[name])
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
