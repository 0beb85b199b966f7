"""The streaming job: killed mid-stream and restarted, the online store holds what a batch recomputation
of the same events gives (Spark local, Feast on SQLite, the job in subprocesses as it runs for real)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.config.feast import feature_store
from components.config.settings import Settings
from components.features.streaming import intraday_batch
from feature_repo.feature_schema import ENTITY_KEY, INTRADAY_FEATURES, INTRADAY_TIMESTAMP

pytestmark = pytest.mark.spark

ACCOUNTS = [f"acc-{i}" for i in range(8)]
SNAPSHOT_DAY = pd.Timestamp("2021-06-30")
FILES = 12
COLUMNS = [ENTITY_KEY, *INTRADAY_FEATURES]


def write_world(root: Path) -> None:
    """Daily snapshots up to SNAPSHOT_DAY, then FILES files of trade and snapshot events the day after.

    File 0 holds a trade of the snapshot day (already in the daily snapshot: it must not count), file 7
    repeats a trade of file 1 (it must count once), acc-7 has no daily snapshot (it is left out) and
    acc-6 no event (it gets no intraday row).
    """
    rng = np.random.default_rng(3)
    daily = pd.DataFrame(
        {
            ENTITY_KEY: ACCOUNTS[:7] * 2,
            "date": [d.date() for d in [SNAPSHOT_DAY - pd.Timedelta(days=1)] * 7 + [SNAPSHOT_DAY] * 7],
            "equity": [900.0] * 7 + [1000.0 + 50 * i for i in range(7)],
            "cash": 0.0,
            "net_deposit": [500.0] * 14,
        }
    )
    (root / "clean" / "snapshots").mkdir(parents=True)
    daily.to_parquet(root / "clean" / "snapshots" / "part-0.parquet", index=False)
    active = [a for a in ACCOUNTS if a != "acc-6"]
    first_trades = None
    for n in range(FILES):
        start = SNAPSHOT_DAY + pd.Timedelta(days=1, hours=9, minutes=30 + 20 * n)
        trades = pd.DataFrame(
            {
                "trade_id": [f"t{n}-{j}" for j in range(5)],
                ENTITY_KEY: rng.choice(active, 5),
                "ts": [start + pd.Timedelta(minutes=j) for j in range(5)],
                "symbol": "AAPL",
                "side": rng.choice(["buy", "sell"], 5),
                "qty": rng.uniform(1, 5, 5).round(3),
                "price": rng.uniform(90, 110, 5).round(2),
                "fee": 0.1,
            }
        )
        if n == 0:
            trades.loc[0, "ts"] = SNAPSHOT_DAY + pd.Timedelta(hours=15)
        if n == 1:
            first_trades = trades
        if n == 7:
            repeat = first_trades[first_trades[ENTITY_KEY] != "acc-7"].iloc[[0]]
            trades = pd.concat([trades, repeat], ignore_index=True)
        snapshots = pd.DataFrame(
            {
                ENTITY_KEY: active[n % 3 :: 3],
                "ts": start + pd.Timedelta(minutes=10),
                "equity": (1000 + rng.normal(0, 30, len(active[n % 3 :: 3]))).round(2),
                "cash": 0.0,
                "net_deposit": 500.0 + 100.0 * (n >= 6),
            }
        )
        for name, frame in (("trades", trades), ("snapshots", snapshots)):
            folder = root / "events" / name
            folder.mkdir(parents=True, exist_ok=True)
            frame.assign(ts=frame["ts"].astype("datetime64[us]")).to_parquet(folder / f"part-{n:03d}.parquet")


def recompute(root: Path) -> pd.DataFrame:
    """The intraday features by hand, in pandas, from every event file."""
    daily = pd.read_parquet(root / "clean" / "snapshots").sort_values("date").groupby(ENTITY_KEY).last()
    trades = pd.read_parquet(root / "events" / "trades").drop_duplicates("trade_id")
    snapshots = pd.read_parquet(root / "events" / "snapshots").drop_duplicates([ENTITY_KEY, "ts"])
    rows = []
    for account, day in daily.iterrows():
        after = pd.Timestamp(day["date"]) + pd.Timedelta(days=1)
        mine = trades[(trades[ENTITY_KEY] == account) & (trades["ts"] >= after)]
        marks = snapshots[(snapshots[ENTITY_KEY] == account) & (snapshots["ts"] >= after)].sort_values("ts")
        if mine.empty and marks.empty:
            continue
        equity = marks["equity"].iloc[-1] if len(marks) else np.nan
        deposits = marks["net_deposit"].iloc[-1] - day["net_deposit"] if len(marks) else np.nan
        rows.append(
            {
                ENTITY_KEY: account,
                "intraday_trades": float(len(mine)),
                "intraday_notional": float((mine["qty"].abs() * mine["price"]).sum()),
                "intraday_equity": equity,
                "intraday_return": equity / (day["equity"] + deposits) - 1,
                INTRADAY_TIMESTAMP: max(mine["ts"].max() if len(mine) else pd.NaT, marks["ts"].max()),
            }
        )
    return pd.DataFrame(rows).sort_values(ENTITY_KEY).reset_index(drop=True)


def run_job(root: Path, *extra: str) -> subprocess.Popen:
    env = os.environ | {"SKILLRANK_STREAM_TRIGGER_SECONDS": "0.5", "SKILLRANK_PROGRESS": "0"}
    command = [sys.executable, "-m", "components.features.streaming", "--data-root", str(root), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def commits(root: Path) -> int:
    folder = Settings(data_root=root).layout.stream_checkpoint / "commits"
    return len([p for p in folder.glob("*") if p.name.isdigit()]) if folder.exists() else 0


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """The job killed (SIGKILL) after two committed micro-batches of one file each, then restarted."""
    root = tmp_path_factory.mktemp("stream")
    write_world(root)
    job = run_job(root, "--max-files-per-trigger", "1")
    deadline = time.monotonic() + 240
    while commits(root) < 2 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    job.kill()
    job.wait()
    killed_at = commits(root)
    restarted = run_job(root, "--available-now")
    assert restarted.wait(timeout=300) == 0
    return root, killed_at


def online_values(root: Path, accounts: list[str]) -> pd.DataFrame:
    store = feature_store(Settings(data_root=root))
    service = store.get_feature_service("intraday_v1")
    online = store.get_online_features(features=service, entity_rows=[{ENTITY_KEY: a} for a in accounts])
    return online.to_df()[COLUMNS].sort_values(ENTITY_KEY).reset_index(drop=True)


def test_the_job_was_killed_mid_stream(streamed):
    root, killed_at = streamed
    assert 2 <= killed_at < FILES  # one file per micro-batch: files were left for the restart
    assert commits(root) > killed_at  # the restart resumed from the checkpoint and went on


def test_online_values_after_a_kill_and_a_restart_equal_a_batch_recomputation(streamed, spark):
    root, _ = streamed
    expected = recompute(root)
    batch = intraday_batch(spark, Settings(data_root=root).layout)
    pd.testing.assert_frame_equal(batch[COLUMNS], expected[COLUMNS], check_dtype=False)
    online = online_values(root, ACCOUNTS)
    present = online[online["intraday_trades"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(present, expected[COLUMNS], check_dtype=False)


def test_a_repeated_trade_counts_once_and_the_snapshot_day_not_at_all(streamed):
    root, _ = streamed
    trades = pd.read_parquet(root / "events" / "trades")
    after = trades[(trades["ts"] >= SNAPSHOT_DAY + pd.Timedelta(days=1)) & (trades[ENTITY_KEY] != "acc-7")]
    online = online_values(root, ACCOUNTS)
    assert online["intraday_trades"].sum() == after["trade_id"].nunique() == len(after) - 1


def test_accounts_without_a_daily_snapshot_or_an_event_get_no_intraday_row(streamed):
    root, _ = streamed
    online = online_values(root, ACCOUNTS).set_index(ENTITY_KEY)
    assert online.loc[["acc-6", "acc-7"], "intraday_trades"].isna().all()
