"""The daily step of a chunk of accounts: flows, closures, rebalancing on a private signal, fills, record.

Skill acts only through the account's choices, never as a drift on returns: at a rebalance the account
scores its symbols with ``skill * zscore(forward log return over its period) + sqrt(1 - skill**2) *
noise`` and holds the top ``n_hold`` of them, equally weighted and scaled by its gross leverage (a meme
account tilts part of it to the hot stock).

Accounting: deposits and withdrawals at the start of the day; fills at the day's close, shares constant
between rebalances, cash -= signed notional + fee (5 bp), equity = cash + sum(shares * close); changes
below 1% of equity are not traded. An account closes when it blows up (equity below 30% of its net
deposits) or at random (15% a year); on ``closed_at`` it sells everything at the close.

A regime change (`RegimeShift`, when ``WorldParams.regime_start`` is set) caps the holdings and scales
the leverage of its accounts at every rebalance from its first day on; it draws which accounts it
touches from its own streams (``REGIME_STREAM``) and changes no other draw.

Every draw of an account comes from its seeding block's streams (`streams.BlockStreams`): traits and
the daily step from ``TRADING_STREAM``, so a chunk is the concatenation of its blocks, whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from components.simulator.market import Market
from components.simulator.params import WorldParams
from components.simulator.streams import (
    FAULTS_STREAM,
    ORDER_STREAM,
    REGIME_STREAM,
    SEEDING_BLOCK,
    TRADING_STREAM,
    BlockStreams,
    block_edges,
)
from components.simulator.traits import Traits, draw_traits

FILL_COLUMNS = ("fill_account", "fill_day", "fill_symbol", "fill_qty", "fill_price", "fill_fee")


@dataclass(frozen=True)
class RegimeShift:
    """From extended day `first_x` on, the `affected` accounts hold at most `holdings` names at
    `leverage` times their own leverage."""

    first_x: int
    affected: np.ndarray
    holdings: int
    leverage: float


def regime_shift(
    market: Market, seed: int, offset: int, size: int, params: WorldParams
) -> RegimeShift | None:
    """The regime change of `size` accounts from global index `offset`, or None when the world has none."""
    if params.regime_start is None:
        return None
    affected = BlockStreams.of_chunk(seed, REGIME_STREAM, offset, size).random(size) < params.regime_share
    first_x = int(np.searchsorted(market.days, np.datetime64(params.regime_start, "D")))
    return RegimeShift(first_x, affected, params.regime_holdings, params.regime_leverage)


@dataclass
class Book:
    """The running state of a chunk of accounts, and what it has recorded so far."""

    shares: np.ndarray
    cash: np.ndarray
    net_deposit: np.ndarray
    equity: np.ndarray
    closed_day: np.ndarray
    fills: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)

    @property
    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.equity, self.cash, self.net_deposit

    @classmethod
    def empty(cls, n_accounts: int, n_symbols: int) -> Book:
        zeros = np.zeros(n_accounts)
        return cls(
            shares=np.zeros((n_accounts, n_symbols)),
            cash=zeros.copy(),
            net_deposit=zeros.copy(),
            equity=zeros.copy(),
            closed_day=np.full(n_accounts, -1),
        )


def simulate_chunk(market: Market, seed: int, offset: int, size: int, params: WorldParams) -> list[dict]:
    """Simulate `size` accounts (global indices from `offset`, a seeding block's first) over the
    market's days, all at once; the raw arrays of each of their seeding blocks (see `block_arrays`)."""
    streams = BlockStreams.of_chunk(seed, TRADING_STREAM, offset, size)
    traits = Traits.concat([draw_traits(rng, n, market, params) for rng, n in streams.blocks()])
    regime = regime_shift(market, seed, offset, size, params)
    book = Book.empty(size, len(market.symbols))
    for day in range(market.n_days):
        step_day(book, market, traits, streams, day, params, regime)
    return block_arrays(book, traits, seed, offset, market.n_days)


def step_day(
    book: Book,
    market: Market,
    traits: Traits,
    streams: BlockStreams,
    day: int,
    params: WorldParams,
    regime: RegimeShift | None = None,
) -> None:
    """One trading day: deposits at the open, closures and rebalances at the close, then the snapshot."""
    price = market.close[market.first + day]
    opening = traits.open_day == day
    alive = (traits.open_day <= day) & (book.closed_day < 0)
    flows = draw_flows(streams, alive & ~opening, book.equity, traits.deposit, params)
    apply_flows(book, np.where(opening, traits.deposit, flows))
    equity = book.cash + book.shares @ price
    closing = draw_closures(streams, alive & ~opening, equity, book.net_deposit, params)
    due = alive & ~closing & ((day - traits.open_day) % traits.period == 0)
    rebalancing, leaving = np.flatnonzero(due), np.flatnonzero(closing)
    noise = streams.standard_normal(rebalancing, len(price))
    targets = target_weights(market, market.first + day, traits, rebalancing, noise, regime)
    targets = targets * equity[rebalancing, None] / price
    rows = np.concatenate([rebalancing, leaving])
    fill(book, day, rows, np.vstack([targets, np.zeros((len(leaving), len(price)))]), price, equity, params)
    book.closed_day[leaving] = day
    record(book, day, traits, price)


def draw_flows(
    rng: np.random.Generator | BlockStreams,
    eligible: np.ndarray,
    equity: np.ndarray,
    deposit: np.ndarray,
    params: WorldParams,
) -> np.ndarray:
    """Later deposits (+) and withdrawals (-, capped by a share of equity) of eligible accounts, in cents."""
    size = len(deposit)
    happens = eligible & (rng.random(size) < params.flow_rate)
    amount = deposit * rng.lognormal(np.log(params.flow_size), 0.7, size)
    withdraws = rng.random(size) < params.withdraw_share
    amount = np.where(withdraws, -np.minimum(amount, params.max_withdrawal * np.maximum(equity, 0.0)), amount)
    return np.where(happens, np.round(amount, 2), 0.0)


def apply_flows(book: Book, amount: np.ndarray) -> None:
    """Deposits and withdrawals move cash and net deposits together (at the start of the day)."""
    book.cash += amount
    book.net_deposit += amount


def draw_closures(
    rng: np.random.Generator | BlockStreams,
    eligible: np.ndarray,
    equity: np.ndarray,
    net_deposit: np.ndarray,
    params: WorldParams,
) -> np.ndarray:
    """Accounts closing today: those that blew up, and a few that quit at random."""
    blown = (equity <= 0) | ((net_deposit > 0) & (equity < params.blowup_fraction * net_deposit))
    quits = rng.random(len(equity)) < params.quit_rate
    return eligible & (blown | quits)


def target_weights(
    market: Market,
    x: int,
    traits: Traits,
    rows: np.ndarray,
    noise: np.ndarray,
    regime: RegimeShift | None = None,
) -> np.ndarray:
    """Target weights (of equity) of the accounts `rows` rebalancing on extended day `x`, whose private
    signals have the standard normal `noise` (a row per account, a column per symbol)."""
    signal = private_signal(market, x, traits.period[rows], traits.skill[rows], noise)
    n_hold, leverage = traits.n_hold[rows], traits.leverage[rows]
    if regime is not None and x >= regime.first_x:
        shifted = regime.affected[rows]
        n_hold = np.where(shifted, np.minimum(n_hold, regime.holdings), n_hold)
        leverage = np.where(shifted, leverage * regime.leverage, leverage)
    picks = top_n(np.where(traits.allowed[rows], signal, -np.inf), n_hold)
    spread = picks / picks.sum(axis=1, keepdims=True)
    hot = np.arange(len(market.symbols)) == market.hot[x]
    tilt = traits.hot_weight[rows, None]
    return leverage[:, None] * ((1 - tilt) * spread + tilt * hot)


def private_signal(
    market: Market, x: int, horizon: np.ndarray, skill: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """``skill * zscore(forward log return over the horizon) + sqrt(1 - skill**2) * noise``, per symbol."""
    future = np.minimum(x + horizon, len(market.days) - 1)
    forward = market.log_close[future] - market.log_close[x]
    return skill[:, None] * zscore_rows(forward) + np.sqrt(1 - skill**2)[:, None] * noise


def zscore_rows(values: np.ndarray) -> np.ndarray:
    """Cross-sectional z-scores of each row (0 where a row has no spread)."""
    centred = values - values.mean(axis=1, keepdims=True)
    spread = values.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(values), where=spread > 0)


def top_n(signal: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Boolean mask of each row's `n` highest finite values."""
    order = np.argsort(-signal, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(signal.shape[1]), order.shape), axis=1)
    n = np.minimum(n, np.isfinite(signal).sum(axis=1))
    return rank < n[:, None]


def fill(
    book: Book,
    day: int,
    rows: np.ndarray,
    target: np.ndarray,
    price: np.ndarray,
    equity: np.ndarray,
    params: WorldParams,
) -> None:
    """Trade accounts `rows` to `target` shares at the close; skip changes below a share of equity."""
    held = book.shares[rows]
    exiting = target == 0
    delta = np.where(exiting, -held, np.round(target - held, 6))
    delta[~exiting & (np.abs(delta) * price < params.min_trade_fraction * equity[rows, None])] = 0.0
    r, s = np.nonzero(delta)
    account, qty = rows[r], delta[r, s]
    notional = qty * price[s]
    fee = params.fee_rate * np.abs(notional)
    book.shares[account, s] += qty
    book.cash -= np.bincount(account, weights=notional + fee, minlength=len(book.cash))
    book.fills.append((account, np.full(len(account), day), s, qty, price[s], fee))


def record(book: Book, day: int, traits: Traits, price: np.ndarray) -> None:
    """End-of-day equity, cash and net deposits of the accounts open today (closing ones included)."""
    book.equity = book.cash + book.shares @ price
    open_today = (traits.open_day <= day) & ((book.closed_day < 0) | (book.closed_day == day))
    account = np.flatnonzero(open_today)
    book.snapshots.append((account, np.full(len(account), day), *(v[account] for v in book.state)))


def block_arrays(book: Book, traits: Traits, seed: int, offset: int, n_days: int) -> list[dict]:
    """The raw columns of each seeding block of the chunk, as if the block had been simulated alone:
    its accounts (indices within the block), fills (by day), snapshot rows (account-major, by day), and
    the streams of its faults and of its trades' timestamps and order."""
    fills = [np.concatenate(column) for column in zip(*book.fills, strict=True)]
    snapshots = [np.concatenate(column) for column in zip(*book.snapshots, strict=True)]
    edges = block_edges(len(traits.skill))
    fill_block = fills[0] // SEEDING_BLOCK
    by_block = np.argsort(fill_block, kind="stable")  # each block's fills stay in the order it recorded them
    fill_cuts = np.searchsorted(fill_block[by_block], np.arange(len(edges)))
    fills = [column[by_block] for column in fills]
    snapshots = [column[np.argsort(snapshots[0], kind="stable")] for column in snapshots]
    snapshot_cuts = np.searchsorted(snapshots[0], edges)
    accounts = {
        "skill": traits.skill,
        "archetype": traits.archetype,
        "country": traits.country,
        "open_day": traits.open_day,
        "closed_day": book.closed_day,
        "last_day": np.where(book.closed_day >= 0, book.closed_day, n_days - 1),
    }
    blocks = []
    for i, (lo, hi) in enumerate(pairwise(edges.tolist())):
        block_fills = [column[fill_cuts[i] : fill_cuts[i + 1]] for column in fills]
        account, day, equity, cash, net_deposit = (
            column[snapshot_cuts[i] : snapshot_cuts[i + 1]] for column in snapshots
        )
        first = offset + lo
        blocks.append(
            {
                "offset": first,
                **{name: values[lo:hi] for name, values in accounts.items()},
                **dict(zip(FILL_COLUMNS, [block_fills[0] - lo, *block_fills[1:]], strict=True)),
                "snapshot_account": account - lo,
                "snapshot_day": day,
                "snapshot_values": (equity, cash, net_deposit),
                "rng_faults": np.random.default_rng([seed, FAULTS_STREAM, first]),
                "rng_order": np.random.default_rng([seed, ORDER_STREAM, first]),
            }
        )
    return blocks
