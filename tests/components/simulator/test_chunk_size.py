"""The world does not depend on the chunk size: streams belong to seeding blocks of accounts, and a chunk
is a whole number of blocks. The chunk size changes only the part files and the order of rows in them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from components.contract.tables import TABLES
from components.simulator.params import WORLD_TABLES
from components.simulator.streams import SEEDING_BLOCK, BlockStreams, whole_blocks
from components.simulator.world import simulate_world

START, END = date(2020, 1, 1), date(2020, 3, 31)
N_ACCOUNTS = 2 * SEEDING_BLOCK + 100  # two whole blocks and a partial one
CHUNK_SIZES = (SEEDING_BLOCK, 2 * SEEDING_BLOCK)  # three chunks, two chunks


def read_sorted(out: Path, table: str) -> pd.DataFrame:
    """The rows of `table`, whatever their order and part files: sorted by every column (trades may
    hold exact duplicates, so no column subset is a key)."""
    frame = pd.read_parquet(out / table)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.fixture(scope="module", params=[True, False], ids=["faults", "clean"])
def worlds(request, tmp_path_factory) -> dict[int, tuple[Path, dict]]:
    """The same world written with each chunk size: its directory and summary."""
    root = tmp_path_factory.mktemp("chunks")
    return {
        size: (
            root / str(size),
            simulate_world(
                root / str(size),
                N_ACCOUNTS,
                START,
                END,
                seed=13,
                chunk_size=size,
                inject_faults=request.param,
            ),
        )
        for size in CHUNK_SIZES
    }


@pytest.mark.parametrize("table", WORLD_TABLES)
def test_every_table_has_the_same_rows_whatever_the_chunk_size(worlds, table):
    small, large = (read_sorted(out, table) for out, _ in worlds.values())
    pd.testing.assert_frame_equal(small, large)


def test_the_summary_is_the_same_whatever_the_chunk_size(worlds):
    small, large = (summary for _, summary in worlds.values())
    assert small == large


def test_the_chunk_size_sets_the_part_files(worlds):
    for size, (out, summary) in worlds.items():
        chunks = -(-N_ACCOUNTS // size)
        late_part = 1 if summary["faults"] else 0
        assert len(list((out / "snapshots").glob("*.parquet"))) == chunks
        assert len(list((out / "trades").glob("*.parquet"))) == chunks + late_part


@pytest.mark.parametrize("table", WORLD_TABLES)
def test_every_part_file_has_exactly_the_contract_schema(worlds, table):
    for out, _ in worlds.values():
        for part in (out / table).glob("*.parquet"):
            schema = pq.read_schema(part)
            assert dict(zip(schema.names, schema.types, strict=True)) == TABLES[table], part


def test_late_trades_arrive_in_the_next_part_file(worlds):
    out, summary = worlds[SEEDING_BLOCK]
    account_part = {
        a: i
        for i, f in enumerate(sorted((out / "accounts").iterdir()))
        for a in pd.read_parquet(f).account_id
    }
    late = 0
    for i, f in enumerate(sorted((out / "trades").iterdir())):
        owners = pd.read_parquet(f).account_id.map(account_part)
        assert owners.between(i - 1, i).all()
        late += (owners < i).sum()
    assert late == summary["faults"].get("late_trade", 0)


def test_a_chunk_draws_what_its_blocks_draw_alone():
    rows = np.array([3, SEEDING_BLOCK - 1, SEEDING_BLOCK, SEEDING_BLOCK + 7])
    chunk = BlockStreams.of_chunk(1, 0, 0, 2 * SEEDING_BLOCK)
    blocks = [BlockStreams.of_chunk(1, 0, first, SEEDING_BLOCK) for first in (0, SEEDING_BLOCK)]
    np.testing.assert_array_equal(
        chunk.random(2 * SEEDING_BLOCK), np.concatenate([b.random(SEEDING_BLOCK) for b in blocks])
    )
    np.testing.assert_array_equal(
        chunk.standard_normal(rows, 3),
        np.vstack(
            [blocks[0].standard_normal(rows[:2], 3), blocks[1].standard_normal(rows[2:] - SEEDING_BLOCK, 3)]
        ),
    )


def test_a_chunk_starts_at_a_block_and_its_size_is_rounded_up_to_whole_blocks():
    assert whole_blocks(1) == whole_blocks(SEEDING_BLOCK) == SEEDING_BLOCK
    assert whole_blocks(SEEDING_BLOCK + 1) == 2 * SEEDING_BLOCK
    with pytest.raises(ValueError, match="seeding block"):
        BlockStreams.of_chunk(1, 0, 10, 20)
    with pytest.raises(ValueError, match="one draw per account"):
        BlockStreams.of_chunk(1, 0, 0, 20).random(19)
