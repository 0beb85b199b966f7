"""Write a simulated platform: `simulate_world` runs the chunks of accounts and writes their tables.

Accounts are simulated in chunks (vectorised over accounts, looping over trading days), so memory grows
with the chunk size, not the number of accounts. Random streams belong to seeding blocks of
``SEEDING_BLOCK`` accounts (`streams`), keyed by the block's first global account index ``first``; a
chunk is a whole number of blocks. Each draw has its own seeded stream: traits and trading
``[seed, 0, first]``, faults ``[seed, 1, first]``, trade timestamps and order ``[seed, 2, first]``, the
regime change ``[seed, 5, first]``, the platform-wide missing day ``[seed, 3]``, id salts
``[seed, 4, stream]``. The world is a function of the seed, the number of accounts, the period, the
params and ``inject_faults`` only: the chunk size changes the part files and the order of rows in
them, never the rows of a table. The world does not depend on ``inject_faults`` except for the faults
themselves.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from components.console import progress
from components.errors import DataError
from components.simulator.faults import corrupt_trades, deliver, drop_snapshot_days, pick_platform_day
from components.simulator.market import Market, build_market
from components.simulator.market_data import market_table, sectors_table
from components.simulator.params import WORLD_TABLES, WorldParams
from components.simulator.streams import SEEDING_BLOCK, whole_blocks
from components.simulator.tables import frame_table, world_tables
from components.simulator.trading import simulate_chunk

logger = logging.getLogger(__name__)


def simulate_world(
    out_dir: Path,
    n_accounts: int,
    start: date,
    end: date,
    seed: int,
    *,
    chunk_size: int = SEEDING_BLOCK,
    inject_faults: bool = True,
    params: WorldParams | None = None,
) -> dict:
    """Write a simulated platform in the data contract under `out_dir`.

    The folders accounts/, trades/, snapshots/, market/, sectors/ and truth/ under `out_dir` are replaced.
    Trades and snapshots are written as one part file per chunk of accounts (trades shuffled, plus one
    more part for the last chunk's late trades when faults are injected). The tables' rows do not
    depend on `chunk_size`; the part files and the order of rows in them do.

    Args:
        out_dir: Directory that receives one folder of Parquet files per table.
        n_accounts: Number of accounts (all open on a trading day in [start, end]).
        start: First simulated day (inclusive).
        end: Last simulated day (inclusive).
        seed: Seed of every random draw.
        chunk_size: Accounts simulated at once: memory grows with chunk_size times days, not n_accounts.
            Rounded up to a whole number of seeding blocks (``SEEDING_BLOCK`` accounts).
        inject_faults: Inject the faults of real feeds; False writes the clean world.
        params: Knobs of the platform; the defaults are the demo world.

    Returns:
        A small summary: ``rows`` written per table, ``faults`` injected per kind (rows), the trading
        days and the platform-wide missing snapshot day (ISO date or None).

    Raises:
        DataError: If `n_accounts` or `chunk_size` is below 1, or no trading day falls in [start, end].

    Example:
        >>> summary = simulate_world(Path("/tmp/world"), 200, date(2020, 1, 1), date(2020, 6, 30), seed=1)
        >>> sorted(summary["rows"])
        ['accounts', 'market', 'sectors', 'snapshots', 'trades', 'truth']
    """
    if n_accounts < 1 or chunk_size < 1:
        raise DataError(f"n_accounts and chunk_size must be >= 1, got {n_accounts} and {chunk_size}.")
    params = params or WorldParams()
    market = build_market(start, end, params)
    out_dir = Path(out_dir)
    reset_tables(out_dir)
    rows = write_part(out_dir, 0, {"market": frame_table(market_table(start, end), "market")})
    rows += write_part(out_dir, 0, {"sectors": frame_table(sectors_table(), "sectors")})
    platform_day = pick_platform_day(market, seed) if inject_faults else None
    faults, late = Counter(), None
    chunk_size = whole_blocks(chunk_size)
    chunks = progress(range(0, n_accounts, chunk_size), f"simulating {n_accounts} accounts", unit="chunk")
    for part, offset in enumerate(chunks):
        size = min(chunk_size, n_accounts - offset)
        blocks = simulate_chunk(market, seed, offset, size, params)
        counter = faults if inject_faults else None
        tables, late = chunk_tables(blocks, market, seed, params, platform_day, counter, late)
        rows += write_part(out_dir, part, tables)
        logger.debug("simulated accounts %d-%d of %d", offset, offset + size, n_accounts)
    if late is not None:
        rows += write_part(out_dir, part + 1, {"trades": late})
    return _summary(rows, faults, market, platform_day)


def chunk_tables(
    blocks: list[dict],
    market: Market,
    seed: int,
    params: WorldParams,
    platform_day: int | None,
    faults: Counter | None,
    late_in: pa.Table | None,
) -> tuple[dict[str, pa.Table], pa.Table | None]:
    """The tables of a chunk's part file, its seeding blocks' one after the other, and its late trades.

    With `faults` (a counter), each block's faults are injected and counted; the part's trades are
    what arrived of the blocks' trades and `late_in`, the previous chunk's late trades, shuffled.
    Without, there are no late trades (None).
    """
    per_block = [block_tables(block, market, seed, params, platform_day, faults) for block in blocks]
    tables = {name: pa.concat_tables([t[name] for t, _ in per_block]) for name in per_block[0][0]}
    if faults is None:
        return tables, None
    # The order is drawn last from the first block's fault stream: it orders rows, it changes none.
    tables["trades"] = deliver([t["trades"] for t, _ in per_block], late_in, blocks[0]["rng_faults"])
    return tables, pa.concat_tables([late for _, late in per_block])


def block_tables(
    block: dict,
    market: Market,
    seed: int,
    params: WorldParams,
    platform_day: int | None,
    faults: Counter | None,
) -> tuple[dict[str, pa.Table], pa.Table | None]:
    """The contract tables of a seeding block (one of `simulate_chunk`'s) and, with `faults`, its late
    trades: its faults are injected and counted, and its trades are those that arrive on time."""
    if faults is None:
        return world_tables(block, market, seed, np.ones(len(block["snapshot_account"]), bool)), None
    tables = world_tables(block, market, seed, drop_snapshot_days(block, faults, platform_day, params))
    tables["trades"], late = corrupt_trades(tables["trades"], block, faults, params)
    return tables, late


def reset_tables(out_dir: Path) -> None:
    """Remove the simulator's table folders under `out_dir` (only those), so no stale part survives."""
    for name in WORLD_TABLES:
        shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / name).mkdir(parents=True)


def write_part(out_dir: Path, part: int, tables: dict[str, pa.Table]) -> Counter:
    """Write each table as ``<out_dir>/<table>/part-<part>.parquet``; return the rows written."""
    for name, table in tables.items():
        pq.write_table(table, out_dir / name / f"part-{part:05d}.parquet")
    return Counter({name: table.num_rows for name, table in tables.items()})


def _summary(rows: Counter, faults: Counter, market: Market, platform_day: int | None) -> dict:
    missing = None if platform_day is None else str(market.days[market.first + platform_day])
    return {
        "rows": {name: rows[name] for name in WORLD_TABLES},
        "faults": dict(sorted(faults.items())),
        "trading_days": market.n_days,
        "missing_platform_day": missing,
    }
