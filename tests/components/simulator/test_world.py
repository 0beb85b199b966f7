"""Behaviour of the platform simulator: seeding, accounting, faults, closures, skill versus luck."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from components.contract.tables import INDEX_SYMBOL
from components.errors import DataError
from components.simulator.market_data import SECTORS, load_closes
from components.simulator.streams import SEEDING_BLOCK
from components.simulator.world import simulate_world

START, END = date(2019, 1, 1), date(2019, 12, 31)
FAULT_KINDS = (
    "bad_price",
    "bad_quantity",
    "duplicate_trade",
    "late_trade",
    "missing_snapshot_outage",
    "missing_snapshot_platform_day",
    "missing_snapshot_single_day",
    "unknown_symbol",
)


def read(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / table)


@pytest.fixture(scope="module")
def clean_world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clean")
    return out, simulate_world(out, 300, START, END, seed=11, inject_faults=False)


@pytest.fixture(scope="module")
def faulty_world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("faulty")
    return out, simulate_world(out, 300, START, END, seed=11)


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    frame = load_closes(START, END)
    frame.index = frame.index.date
    return frame


@pytest.fixture(scope="module")
def ledger(clean_world, closes) -> dict[str, pd.DataFrame]:
    """Per account (the 10 with the most trades): snapshots, and holdings / fees rebuilt from trades."""
    out, _ = clean_world
    trades, snapshots = read(out, "trades"), read(out, "snapshots")
    busiest = trades["account_id"].value_counts().index[:10]
    return {a: account_ledger(trades[trades.account_id == a], snapshots, a, closes) for a in busiest}


@pytest.fixture(scope="module")
def skill_world(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A world large enough to see skill: per-account mean daily excess return, and June 2020 returns."""
    out = tmp_path_factory.mktemp("skill")
    simulate_world(out, 2000, date(2019, 1, 1), date(2021, 12, 31), seed=5, inject_faults=False)
    snapshots = read(out, "snapshots").sort_values(["account_id", "date"])
    by_account = snapshots.groupby("account_id")
    snapshots["r"] = snapshots.equity / (by_account.equity.shift() + by_account.net_deposit.diff()) - 1
    market = load_closes(date(2019, 1, 1), date(2021, 12, 31))[INDEX_SYMBOL].pct_change()
    snapshots["excess"] = snapshots.r - snapshots.date.map(dict(zip(market.index.date, market, strict=True)))
    truth = read(out, "truth").set_index("account_id")
    per_account = snapshots.groupby("account_id").excess.agg(["mean", "count"]).join(truth)
    june = snapshots[(snapshots.date >= date(2020, 6, 1)) & (snapshots.date <= date(2020, 6, 30))]
    month = np.exp(np.log1p(june.r).groupby(june.account_id).sum()) - 1
    return (
        per_account[per_account["count"] >= 60].rename(columns={"mean": "excess"}),
        month.rename("month_return").to_frame().join(truth),
    )


def account_ledger(trades: pd.DataFrame, snapshots: pd.DataFrame, account: str, closes: pd.DataFrame):
    """Snapshot rows of `account` with the end-of-day holdings value, cumulative cash flow and fees."""
    days = trades.ts.dt.date
    signed = trades.qty.where(trades.side == "buy", -trades.qty)
    shares = signed.groupby([days, trades.symbol]).sum().unstack(fill_value=0.0)
    shares = shares.reindex(index=closes.index, columns=closes.columns, fill_value=0.0).cumsum()
    outflow = (signed * trades.price + trades.fee).groupby(days).sum().reindex(closes.index, fill_value=0.0)
    frame = pd.DataFrame(
        {
            "holdings": (shares * closes).sum(axis=1),
            "carried_pnl": (shares.shift(fill_value=0.0) * closes.diff().fillna(0.0)).sum(axis=1),
            "fees": trades.fee.groupby(days).sum().reindex(closes.index, fill_value=0.0),
            "spent": outflow.cumsum(),
        }
    )
    rows = snapshots[snapshots.account_id == account].sort_values("date").set_index("date")
    return rows.join(frame)


def test_same_seed_writes_the_same_world(tmp_path):
    worlds = [tmp_path / "a", tmp_path / "b"]
    for out in worlds:
        simulate_world(out, 60, date(2020, 1, 1), date(2020, 3, 31), seed=3)
    for table in ("accounts", "trades", "snapshots", "truth"):
        assert pq.read_table(worlds[0] / table).equals(pq.read_table(worlds[1] / table)), table


def test_another_seed_writes_another_world(tmp_path):
    for seed in (3, 4):
        simulate_world(tmp_path / str(seed), 60, date(2020, 1, 1), date(2020, 3, 31), seed=seed)
    for table in ("accounts", "snapshots", "truth"):
        assert not pq.read_table(tmp_path / "3" / table).equals(pq.read_table(tmp_path / "4" / table))


def test_equity_is_cash_plus_holdings_at_the_close(ledger):
    for rows in ledger.values():
        np.testing.assert_allclose(rows.equity, rows.cash + rows.holdings, rtol=1e-9, atol=1e-6)


def test_cash_is_net_deposits_minus_what_the_trades_spent(ledger):
    for rows in ledger.values():
        np.testing.assert_allclose(rows.cash, rows.net_deposit - rows.spent, rtol=1e-9, atol=1e-6)


def test_flow_adjusted_return_is_the_pnl_of_held_positions(ledger):
    """r_t = equity_t / (equity_{t-1} + Δnet_deposit) − 1: deposits at the open are capital, not return."""
    for rows in ledger.values():
        capital = rows.equity.shift() + rows.net_deposit.diff()
        r = (rows.equity / capital - 1).iloc[1:]
        expected = ((rows.carried_pnl - rows.fees) / capital).iloc[1:]
        np.testing.assert_allclose(r, expected, rtol=1e-7, atol=1e-9)


def test_accounts_deposit_and_withdraw_after_opening(clean_world):
    snapshots = read(clean_world[0], "snapshots").sort_values(["account_id", "date"])
    flows = snapshots.groupby("account_id").net_deposit.diff().dropna()
    assert (flows > 0).sum() > 10
    assert (flows < 0).sum() > 10


def test_closed_accounts_have_no_rows_after_closed_at(clean_world):
    out, _ = clean_world
    closed = read(out, "accounts").dropna(subset=["closed_at"])[["account_id", "closed_at"]]
    snapshots = read(out, "snapshots").merge(closed, on="account_id")
    trades = read(out, "trades").merge(closed, on="account_id")
    assert closed.account_id.nunique() > 10
    assert (
        snapshots.groupby("account_id").date.max() == snapshots.groupby("account_id").closed_at.first()
    ).all()
    assert (trades.ts.dt.date <= trades.closed_at).all()


def test_closed_accounts_sell_everything_on_closed_at(clean_world):
    out, _ = clean_world
    closed = read(out, "accounts").dropna(subset=["closed_at"])
    trades = read(out, "trades")
    trades = trades[trades.account_id.isin(closed.account_id)]
    net = (
        trades.qty.where(trades.side == "buy", -trades.qty).groupby([trades.account_id, trades.symbol]).sum()
    )
    last = read(out, "snapshots").merge(
        closed, left_on=["account_id", "date"], right_on=["account_id", "closed_at"]
    )
    np.testing.assert_allclose(net, 0.0, atol=1e-6)
    np.testing.assert_allclose(last.equity, last.cash)


def test_every_fault_kind_is_injected_and_counted(faulty_world):
    _, summary = faulty_world
    assert set(summary["faults"]) == set(FAULT_KINDS)
    assert all(count > 0 for count in summary["faults"].values())


def test_fault_counts_match_the_written_trades(faulty_world, clean_world):
    trades, faults = read(faulty_world[0], "trades"), faulty_world[1]["faults"]
    assert len(trades) - trades.trade_id.nunique() == faults["duplicate_trade"]
    assert (trades.qty <= 0).sum() == faults["bad_quantity"]
    assert (trades.price <= 0).sum() == faults["bad_price"]
    assert (~trades.symbol.isin(list(SECTORS))).sum() == faults["unknown_symbol"]
    assert trades.trade_id.nunique() == clean_world[1]["rows"]["trades"]


def test_missing_snapshot_rows_are_counted_and_never_altered(faulty_world, clean_world):
    keys = ["account_id", "date"]
    faulty, clean = read(faulty_world[0], "snapshots"), read(clean_world[0], "snapshots")
    faults = faulty_world[1]["faults"]
    missing = sum(faults[kind] for kind in FAULT_KINDS if kind.startswith("missing_snapshot"))
    assert len(clean) - len(faulty) == missing
    pd.testing.assert_frame_equal(
        faulty.merge(clean, on=keys, suffixes=("", "_clean"))[faulty.columns], faulty
    )


def test_one_platform_wide_day_is_missing_from_snapshots(faulty_world):
    out, summary = faulty_world
    day = date.fromisoformat(summary["missing_platform_day"])
    assert day in set(read(out, "market").date)
    assert day not in set(read(out, "snapshots").date)


def test_some_accounts_miss_several_days_in_a_row(faulty_world, closes):
    out, summary = faulty_world
    calendar = {d: i for i, d in enumerate(closes.index)}
    platform = calendar[date.fromisoformat(summary["missing_platform_day"])]
    snapshots = (
        read(out, "snapshots").assign(i=lambda s: s.date.map(calendar)).sort_values(["account_id", "i"])
    )
    gaps = snapshots.groupby("account_id").i.diff() - 1
    straddles = (snapshots.i - gaps <= platform) & (snapshots.i > platform)
    assert (gaps[~straddles] >= 2).sum() > 0


def test_skilled_accounts_beat_the_market_more_than_zero_skill_ones(skill_world):
    per_account, _ = skill_world
    skilled = per_account.loc[per_account.skill > 0, "excess"].mean()
    unskilled = per_account.loc[per_account.skill == 0, "excess"].mean()
    assert skilled > unskilled


def test_one_month_of_returns_barely_ranks_skill(skill_world):
    _, month = skill_world
    assert abs(spearmanr(month.skill, month.month_return).statistic) < 0.15


def test_the_best_month_belongs_to_luck_more_than_to_skill(skill_world):
    _, month = skill_world
    best = month.nlargest(50, "month_return")
    assert (best.skill == 0).sum() > (best.skill > 0).sum()


def test_no_accounts_is_an_error(tmp_path):
    with pytest.raises(DataError, match="n_accounts"):
        simulate_world(tmp_path, 0, START, END, seed=1)


def test_a_window_without_trading_days_is_an_error(tmp_path):
    with pytest.raises(DataError, match="No trading day"):
        simulate_world(tmp_path, 10, date(2019, 1, 5), date(2019, 1, 6), seed=1)


def test_a_window_after_the_data_is_an_error(tmp_path):
    with pytest.raises(DataError, match="2022-12-28"):
        simulate_world(tmp_path, 10, date(2030, 1, 1), date(2030, 12, 31), seed=1)


def test_a_progress_bar_counts_the_chunks_of_accounts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKILLRANK_PROGRESS", "1")
    simulate_world(tmp_path, SEEDING_BLOCK + 1, date(2020, 1, 2), date(2020, 1, 3), seed=1)
    err = capsys.readouterr().err
    assert f"simulating {SEEDING_BLOCK + 1} accounts" in err
    assert "2/2" in err
