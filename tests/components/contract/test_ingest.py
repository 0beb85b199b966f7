"""Ingest rules: each fault kind is quarantined with its reason, and input = clean + quarantined."""

import datetime as dt

import pandas as pd
import pytest

from components.config.layout import DataLayout
from components.contract.ingest import RULES, ingest, split_rows

DAY = dt.date(2020, 1, 2)


@pytest.fixture
def reference():
    return {
        "market": pd.DataFrame({"date": pd.to_datetime([DAY]), "symbol": ["AAA"], "close": [10.0]}),
        "accounts": pd.DataFrame(
            {"account_id": ["a"], "opened_at": pd.to_datetime([DAY]), "closed_at": pd.to_datetime([None])}
        ),
    }


def trade(**changes):
    row = dict(
        trade_id="t1",
        account_id="a",
        ts=pd.Timestamp(DAY),
        symbol="AAA",
        side="buy",
        qty=1.0,
        price=10.0,
        fee=0.0,
    )
    return row | changes


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (trade(trade_id="t0"), "duplicate trade_id"),  # the copy of t0 below
        (trade(trade_id="t2", qty=0.0), "non-positive or missing qty"),
        (trade(trade_id="t3", qty=-5.0), "non-positive or missing qty"),
        (trade(trade_id="t4", price=0.0), "non-positive or missing price"),
        (trade(trade_id="t5", symbol="AAA.US"), "unknown symbol"),
        (trade(trade_id="t6", symbol=""), "unknown symbol"),
        (trade(trade_id="t7", symbol="aaa"), "unknown symbol"),
        (trade(trade_id="t8", account_id="zz"), "unknown account"),
        (trade(trade_id="t9", side="short"), "unknown side"),
        (trade(trade_id="t10", fee=-1.0), "negative or missing fee"),
    ],
)
def test_each_trade_fault_gets_its_reason(bad, reason, reference):
    frame = pd.DataFrame([trade(trade_id="t0"), bad])
    clean, rejected = split_rows(frame, RULES["trades"], reference)
    assert clean["trade_id"].tolist() == ["t0"]
    assert rejected["reason"].tolist() == [reason]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account_id": "zz"}, "unknown account"),
        ({"equity": float("nan")}, "missing or non-finite value"),
        ({"date": pd.Timestamp("2020-01-04")}, "not a trading day"),
        ({"date": pd.Timestamp("2019-12-31")}, "not a trading day"),
    ],
)
def test_each_snapshot_fault_gets_its_reason(changes, reason, reference):
    good = dict(account_id="a", date=pd.Timestamp(DAY), equity=1.0, cash=0.0, net_deposit=1.0)
    clean, rejected = split_rows(pd.DataFrame([good, good | changes]), RULES["snapshots"], reference)
    assert len(clean) == 1
    assert rejected["reason"].tolist() == [reason]


def test_duplicate_snapshot_day_keeps_the_first(reference):
    good = dict(account_id="a", date=pd.Timestamp(DAY), equity=1.0, cash=0.0, net_deposit=1.0)
    clean, rejected = split_rows(pd.DataFrame([good, good | {"equity": 2.0}]), RULES["snapshots"], reference)
    assert clean["equity"].tolist() == [1.0]
    assert rejected["reason"].tolist() == ["duplicate (account_id, date)"]


def test_reconciliation_holds_on_the_hand_export(tmp_path):
    from tests.handworld import FAULTY_TRADES, write_export

    written = write_export(tmp_path / "export")
    counts = ingest(tmp_path / "export", DataLayout(tmp_path / "out"))
    for table, entry in counts.items():
        assert entry["input"] == len(written[table]) == entry["clean"] + entry["quarantined"]
    assert counts["trades"]["reasons"] == FAULTY_TRADES
    quarantined = pd.read_parquet(tmp_path / "out" / "quarantine" / "trades")
    assert sorted(quarantined["reason"]) == sorted(FAULTY_TRADES)
