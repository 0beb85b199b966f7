"""The faults real feeds have, injected after the clean world is generated and counted per kind.

Trades: duplicates, zero or negative quantities and prices, unknown symbols, trades arriving late (in the
next part file), shuffled rows. Snapshots: missing days (single days, multi-day outages of a few
accounts, one platform-wide day). Faults draw from their own random streams, so the clean world does
not depend on whether they are injected; each seeding block of accounts has its own (its
``rng_faults``), so which rows are faulty does not depend on the chunk size either.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa

from components.simulator.market import Market
from components.simulator.market_data import SECTORS
from components.simulator.params import WorldParams


def pick_platform_day(market: Market, seed: int) -> int | None:
    """The simulated day missing from every account's snapshots (never the first or last day)."""
    if market.n_days < 3:
        return None
    return int(np.random.default_rng([seed, 3]).integers(1, market.n_days - 1))


def drop_snapshot_days(
    world: dict, faults: Counter, platform_day: int | None, params: WorldParams
) -> np.ndarray:
    """Keep-mask of snapshot rows after missing days: the platform day, outages, single days."""
    rng, account, day = world["rng_faults"], world["snapshot_account"], world["snapshot_day"]
    interior = (day > world["open_day"][account]) & (day < world["last_day"][account])
    platform = day == platform_day if platform_day is not None else np.zeros(len(day), bool)
    outage = outage_rows(rng, world, params) & interior & ~platform
    single = np.zeros(len(day), bool)
    single[pick(rng, np.flatnonzero(interior & ~platform & ~outage), params.missing_day_rate, len(day))] = (
        True
    )
    faults.update(
        missing_snapshot_platform_day=int(platform.sum()),
        missing_snapshot_outage=int(outage.sum()),
        missing_snapshot_single_day=int(single.sum()),
    )
    return ~(platform | outage | single)


def outage_rows(rng: np.random.Generator, world: dict, params: WorldParams) -> np.ndarray:
    """Rows inside one multi-day outage of a few accounts with long enough records."""
    lo, hi = params.outage_days
    span = world["last_day"] - world["open_day"] - 1
    eligible = np.flatnonzero(span > hi)
    hit = pick(rng, eligible, params.outage_share, len(span))
    length = np.zeros(len(span), int)
    length[hit] = rng.integers(lo, hi + 1, len(hit))
    begin = world["open_day"] + 1 + (rng.random(len(span)) * np.maximum(span - length, 0)).astype(int)
    account, day = world["snapshot_account"], world["snapshot_day"]
    return (day >= begin[account]) & (day < begin[account] + length[account])


def corrupt_trades(
    trades: pa.Table, world: dict, faults: Counter, params: WorldParams
) -> tuple[pa.Table, pa.Table]:
    """Inject trade faults on disjoint rows of a block's trades; return the rows that arrive now
    (duplicates included) and the late ones, which `deliver` puts into the next part file."""
    rng = world["rng_faults"]
    rates = {
        "bad_quantity": params.bad_quantity_rate,
        "bad_price": params.bad_price_rate,
        "unknown_symbol": params.unknown_symbol_rate,
        "duplicate_trade": params.duplicate_rate,
        "late_trade": params.late_rate,
    }
    sizes = [_count(rate, trades.num_rows) for rate in rates.values()]
    if sum(sizes) > trades.num_rows:
        sizes = [0] * len(sizes)
    picked = dict(
        zip(
            rates,
            np.split(rng.permutation(trades.num_rows)[: sum(sizes)], np.cumsum(sizes)[:-1]),
            strict=True,
        )
    )
    faults.update({kind: len(rows) for kind, rows in picked.items()})
    trades = corrupt_values(trades, picked["bad_quantity"], picked["bad_price"], rng)
    trades = garble_symbols(trades, picked["unknown_symbol"], rng)
    late = np.zeros(trades.num_rows, bool)
    late[picked["late_trade"]] = True
    arrived = pa.concat_tables([trades.filter(~late), trades.take(picked["duplicate_trade"])])
    return arrived, trades.filter(late)


def deliver(arrived: list[pa.Table], late_in: pa.Table | None, rng: np.random.Generator) -> pa.Table:
    """A part file's trades: what arrived of its blocks' trades and the previous part's late ones, shuffled.

    `rng` orders rows only: it may be a stream the part's content no longer draws from.
    """
    merged = pa.concat_tables(arrived if late_in is None else [*arrived, late_in])
    return merged.take(rng.permutation(merged.num_rows))


def corrupt_values(
    trades: pa.Table, bad_qty: np.ndarray, bad_price: np.ndarray, rng: np.random.Generator
) -> pa.Table:
    """Set quantities (rows `bad_qty`) and prices (rows `bad_price`) to zero or their negative."""
    for column, rows in (("qty", bad_qty), ("price", bad_price)):
        values = trades[column].to_numpy().copy()
        values[rows] = np.where(rng.random(len(rows)) < 0.5, 0.0, -values[rows])
        trades = _replace(trades, column, pa.array(values))
    return trades


def garble_symbols(trades: pa.Table, rows: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Replace the symbols of `rows` by ones not in the market (suffix, lower case, typo, empty)."""
    symbols = trades["symbol"].to_numpy(zero_copy_only=False).copy()
    kinds = rng.integers(0, 4, len(rows))
    symbols[rows] = [unknown_symbol(symbol, kind) for symbol, kind in zip(symbols[rows], kinds, strict=True)]
    return _replace(trades, "symbol", pa.array(symbols, pa.string()))


def unknown_symbol(symbol: str, kind: int) -> str:
    """A symbol a real feed might send for `symbol`: 0 suffix, 1 lower case, 2 typo, 3 empty.

    Example:
        >>> [unknown_symbol("AAPL", kind) for kind in range(4)]
        ['AAPL.US', 'aapl', 'APPL', '']
    """
    typo = symbol[0] + symbol[2] * 2 + symbol[3:] if len(symbol) > 2 else symbol + symbol[-1]
    garbled = (f"{symbol}.US", symbol.lower(), typo, "")[kind]
    return garbled if garbled not in SECTORS else garbled + "X"


def _replace(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def pick(rng: np.random.Generator, candidates: np.ndarray, rate: float, n: int) -> np.ndarray:
    """About `rate` * `n` (at least one if n > 0) distinct entries of `candidates`."""
    return rng.choice(candidates, min(_count(rate, n), len(candidates)), replace=False)


def _count(rate: float, n: int) -> int:
    return math.ceil(rate * n) if n else 0
