"""The simulator's tables honour the data contract: schema, keys, ranges, calendar and reconciliation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from components.contract.tables import INDEX_SECTOR, INDEX_SYMBOL, TABLES
from components.simulator.market_data import SECTORS
from components.simulator.world import simulate_world

START, END = date(2020, 1, 1), date(2020, 12, 31)
ARCHETYPES = {"skilled", "unskilled", "negative", "meme", "gambler"}


def read(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / table)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    simulate_world(out, 250, START, END, seed=21, inject_faults=False)
    return out


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("faulty")
    return out, simulate_world(out, 250, START, END, seed=21)


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_has_exactly_the_contract_schema(faulty, table):
    schema = pq.read_table(faulty[0] / table).schema
    assert dict(zip(schema.names, schema.types, strict=True)) == TABLES[table]


def test_summary_counts_the_rows_written(faulty):
    out, summary = faulty
    assert summary["rows"] == {table: pq.read_table(out / table).num_rows for table in summary["rows"]}


def test_trades_are_not_sorted(faulty):
    assert not read(faulty[0], "trades").ts.is_monotonic_increasing


def test_account_ids_are_unique_and_the_same_in_truth(clean):
    accounts, truth = read(clean, "accounts"), read(clean, "truth")
    assert accounts.account_id.is_unique
    assert set(accounts.account_id) == set(truth.account_id)
    assert len(accounts) == 250


def test_clean_trade_ids_are_unique(clean):
    assert read(clean, "trades").trade_id.is_unique


def test_snapshot_keys_are_unique(clean):
    assert not read(clean, "snapshots").duplicated(["account_id", "date"]).any()


def test_accounts_open_in_the_window_and_close_after_opening(clean):
    accounts = read(clean, "accounts")
    assert accounts.opened_at.between(START, END).all()
    closed = accounts.dropna(subset=["closed_at"])
    assert (closed.closed_at > closed.opened_at).all() and (closed.closed_at <= END).all()


def test_clean_snapshots_cover_every_trading_day_while_open(clean):
    calendar = pd.Series(sorted(set(read(clean, "market").date)))
    accounts = read(clean, "accounts").fillna({"closed_at": END})
    expected = [calendar.between(a.opened_at, a.closed_at).sum() for a in accounts.itertuples()]
    counts = read(clean, "snapshots").groupby("account_id").size()
    assert counts[accounts.account_id].tolist() == expected


def test_clean_trades_are_valid_fills_at_the_close(clean):
    trades, market = read(clean, "trades"), read(clean, "market")
    fills = trades.assign(date=trades.ts.dt.date).merge(market, on=["date", "symbol"], how="left")
    assert set(trades.side) == {"buy", "sell"}
    assert (trades.qty > 0).all() and (trades.fee >= 0).all()
    np.testing.assert_array_equal(fills.price, fills.close)


def test_trade_timestamps_are_within_the_session(clean):
    time_of_day = read(clean, "trades").ts.dt.time
    assert time_of_day.between(pd.Timestamp("09:30").time(), pd.Timestamp("16:00").time()).all()


def test_trades_happen_while_the_account_is_open(clean):
    trades = read(clean, "trades").merge(read(clean, "accounts"), on="account_id")
    day = trades.ts.dt.date
    assert (day >= trades.opened_at).all()
    assert (day <= trades.closed_at.fillna(END)).all()


def test_market_is_the_calendar_of_21_symbols_with_spx(clean):
    market = read(clean, "market")
    assert market.date.between(START, END).all()
    assert set(market.symbol) == set(SECTORS) and INDEX_SYMBOL in set(market.symbol)
    assert not market.duplicated(["date", "symbol"]).any() and (market.close > 0).all()


def test_sectors_give_one_sector_per_symbol_and_index_for_spx(clean):
    sectors = read(clean, "sectors").set_index("symbol").sector
    assert sectors.index.is_unique and sectors[INDEX_SYMBOL] == INDEX_SECTOR


def test_truth_has_documented_archetypes_and_bounded_skill(clean):
    truth = read(clean, "truth")
    assert set(truth.archetype) == ARCHETYPES
    assert truth.skill.between(-0.10, 0.10).all()
    assert 0.5 < (truth.skill == 0).mean() < 0.9


def test_no_nulls_except_closed_at_of_open_accounts(clean):
    for table in TABLES:
        nulls = read(clean, table).isna().sum()
        assert nulls.drop("closed_at", errors="ignore").sum() == 0, table


def test_faulty_world_has_the_clean_trades_plus_duplicates(faulty, clean):
    out, summary = faulty
    assert summary["rows"]["trades"] == len(read(clean, "trades")) + summary["faults"]["duplicate_trade"]
    assert set(read(out, "trades").trade_id) == set(read(clean, "trades").trade_id)
