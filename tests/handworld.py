"""A small platform export built by hand, in the data contract, that the simulator did not write.

30 accounts over 2020 on three stocks and the index with closed-form prices, so returns can be
computed by hand. It has what real exports have: a deposit and a withdrawal mid-period, a closed
account, a platform-wide missing snapshot day, a two-day outage of one account, late and duplicate
trades, an unknown symbol, extra columns and an extra table, two part files per table, columns in
another order, and no truth/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATES = pd.bdate_range("2020-01-01", "2020-12-31")
SYMBOLS = {"AAA": "Tech", "BBB": "Energy", "CCC": "Health Care", "SPX": "Index"}
N_ACCOUNTS = 30
PLATFORM_GAP = pd.Timestamp("2020-06-15")  # no snapshot for anyone that day
OUTAGE_ACCOUNT, OUTAGE_DAYS = "acc-04", (pd.Timestamp("2020-08-04"), pd.Timestamp("2020-08-05"))
CLOSED_ACCOUNT, CLOSED_AT = "acc-03", pd.Timestamp("2020-10-30")
DEPOSIT_ACCOUNT, DEPOSIT_DAY, DEPOSIT = "acc-01", pd.Timestamp("2020-05-01"), 5_000.0
WITHDRAW_ACCOUNT, WITHDRAW_DAY, WITHDRAWAL = "acc-02", pd.Timestamp("2020-07-01"), 2_000.0
BUY_AND_HOLD = "acc-10"  # all in AAA, no cash: its return is the price ratio of AAA
LATE_OPENERS = [f"acc-{i:02d}" for i in range(25, 30)]  # open in September: short track records


def closes() -> pd.DataFrame:
    """Closed-form prices per trading day: one column per symbol."""
    t = np.arange(len(DATES))
    return pd.DataFrame(
        {
            "AAA": 100 * 1.001**t,
            "BBB": 50 + 5 * np.sin(t / 10),
            "CCC": 20 * (1 + 0.002 * t) + np.cos(t / 7),
            "SPX": 3000 * 1.0005**t,
        },
        index=DATES,
    )


def account_plan(number: int) -> dict:
    """Shares bought on the opening day and a monthly 1-share top-up of AAA (not for buy-and-hold)."""
    account = f"acc-{number:02d}"
    opened = pd.Timestamp("2020-09-01") if account in LATE_OPENERS else DATES[0]
    shares = {"AAA": 10.0 + number, "BBB": 5.0 * (number % 3), "CCC": float(number % 4)}
    if account == BUY_AND_HOLD:
        shares = {"AAA": 50.0, "BBB": 0.0, "CCC": 0.0}
    return {"account": account, "opened": opened, "shares": shares, "top_up": account != BUY_AND_HOLD}


def simulate_account(plan: dict, prices: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """Exact accounting of one account: trades at the close, cash and equity every trading day."""
    days = prices.index[prices.index >= plan["opened"]]
    closed = CLOSED_AT if plan["account"] == CLOSED_ACCOUNT else None
    held = {s: 0.0 for s in SYMBOLS}
    cash = net_deposit = 0.0
    trades, snapshots = [], []

    def trade(day, symbol, qty):
        nonlocal cash
        held[symbol] += qty
        cash -= qty * prices.at[day, symbol]
        side = "buy" if qty > 0 else "sell"
        trades.append(
            dict(
                trade_id=f"{plan['account']}-{len(trades)}",
                account_id=plan["account"],
                ts=day + pd.Timedelta(hours=15),
                symbol=symbol,
                side=side,
                qty=abs(qty),
                price=prices.at[day, symbol],
                fee=0.0,
            )
        )

    for i, day in enumerate(days):
        flow = 0.0
        if i == 0:
            flow = sum(q * prices.at[day, s] for s, q in plan["shares"].items())
        if plan["account"] == DEPOSIT_ACCOUNT and day == DEPOSIT_DAY:
            flow = DEPOSIT
        if plan["account"] == WITHDRAW_ACCOUNT and day == WITHDRAW_DAY:
            flow = -WITHDRAWAL
        cash, net_deposit = cash + flow, net_deposit + flow
        if i == 0:
            for symbol, qty in plan["shares"].items():
                if qty:
                    trade(day, symbol, qty)
        elif plan["top_up"] and day.month != days[i - 1].month:
            trade(day, "AAA", 1.0)
        if closed is not None and day == closed:
            for symbol, qty in list(held.items()):
                if qty:
                    trade(day, symbol, -qty)
        equity = cash + sum(q * prices.at[day, s] for s, q in held.items())
        snapshots.append(
            dict(
                account_id=plan["account"], date=day.date(), equity=equity, cash=cash, net_deposit=net_deposit
            )
        )
        if closed is not None and day == closed:
            break
    return trades, snapshots


def build_tables() -> dict[str, pd.DataFrame]:
    """The export's tables before faults and file layout."""
    prices = closes()
    trades, snapshots, accounts = [], [], []
    for number in range(N_ACCOUNTS):
        plan = account_plan(number)
        account_trades, account_snapshots = simulate_account(plan, prices)
        trades += account_trades
        snapshots += account_snapshots
        closed = CLOSED_AT.date() if plan["account"] == CLOSED_ACCOUNT else None
        accounts.append(
            dict(account_id=plan["account"], opened_at=plan["opened"].date(), closed_at=closed, country="DE")
        )
    market = prices.stack().rename("close").rename_axis(["date", "symbol"]).reset_index()
    market["date"] = market["date"].dt.date
    snapshots = pd.DataFrame(snapshots)
    gap = (snapshots["date"] == PLATFORM_GAP.date()) | (
        (snapshots["account_id"] == OUTAGE_ACCOUNT) & snapshots["date"].isin([d.date() for d in OUTAGE_DAYS])
    )
    return {
        "accounts": pd.DataFrame(accounts).astype({"closed_at": "object"}),
        "trades": pd.DataFrame(trades),
        "snapshots": snapshots[~gap].reset_index(drop=True),
        "market": market,
        "sectors": pd.DataFrame({"symbol": list(SYMBOLS), "sector": list(SYMBOLS.values())}),
    }


FAULTY_TRADES = {"duplicate trade_id": 1, "unknown symbol": 1}


def add_faults(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A duplicated trade row, a trade on an unknown symbol, and extra columns."""
    trades = tables["trades"]
    bogus = trades.iloc[[5]].assign(trade_id="bogus-1", symbol="aaa.US")
    trades = pd.concat([trades, trades.iloc[[3]], bogus], ignore_index=True)
    trades["broker_note"] = "n/a"
    snapshots = tables["snapshots"].assign(currency="EUR")
    return tables | {"trades": trades, "snapshots": snapshots}


def write_export(root: Path) -> dict[str, pd.DataFrame]:
    """Write the export under `root` (two part files per table, columns reversed, late trades last).

    Returns the tables as written (with faults), for reconciliation checks.
    """
    tables = add_faults(build_tables())
    for name, frame in tables.items():
        folder = root / name
        folder.mkdir(parents=True)
        frame = frame[list(reversed(frame.columns))]
        if name == "trades":
            frame = frame.sample(frac=1.0, random_state=0)
        half = len(frame) // 2
        # Trades are not sorted, and the second part holds rows that arrived late (earlier timestamps).
        frame.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
        frame.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    (root / "leaderboard").mkdir()
    pd.DataFrame({"account_id": ["acc-00"], "rank": [1]}).to_parquet(root / "leaderboard" / "part-0.parquet")
    return tables
