"""The platform simulator: a seeded, vectorised world of accounts, trades and snapshots on real closes.

No public trade-level data of retail investors exists, so this module writes the platform's tables
(``accounts/``, ``trades/``, ``snapshots/``) on top of the real closes of
``components.simulator.market_data``, plus ``market/``, ``sectors/`` and the ground truth ``truth/``,
exactly in ``components.contract.tables.TABLES``.

The model. Accounts are simulated in chunks (vectorised over accounts, looping over trading days), each
with latent traits drawn from the seed:

- skill: the information coefficient of a private signal about the forward log returns of its symbols
  over its holding period. At a rebalance the account scores its symbols with
  ``skill * zscore(forward return) + sqrt(1 - skill**2) * noise`` and holds the top ``n_hold`` of them,
  equally weighted and scaled by its gross leverage. Skill acts only through these choices, never as a
  drift on returns. 70% of accounts have skill 0, 20% skill in [0.02, 0.10], 10% in [-0.10, -0.02].
  The forward returns may reach past ``end`` (up to 60 trading days): that is what a signal knows.
- behaviour, drawn independently of skill, and the ``archetype`` written to ``truth/``:
  ``meme`` (15%: puts 50-100% into the stock with the best trailing 21-day return at each rebalance),
  ``gambler`` (15%: 1-2 holdings at leverage 1.5-2.0); the other accounts (2-10 holdings at leverage
  0.3-1.3) are ``skilled``, ``unskilled`` or ``negative`` by the sign of their skill. A meme or gambler
  account may be skilled too: ``truth.skill`` is the only measure of skill.
- rebalancing period (3-60 trading days, log-uniform), sector taste (2-5 sectors, SPX for 30%),
  open date (40% in the first quarter, the rest uniform: accounts keep arriving), initial deposit
  (lognormal, median 2,000) and later deposits and withdrawals (at the start of the day).

Accounting: fills at the day's close, shares constant between rebalances, cash -= signed notional + fee
(5 bp), equity = cash + sum(shares * close); changes below 1% of equity are not traded. An account
closes when it blows up (equity below 30% of its net deposits) or at random (15% a year); on
``closed_at`` it sells everything at the close.

Faults are injected after the clean world is generated and counted per kind: duplicate trades, zero or
negative quantities and prices, unknown symbols, trades arriving late (in a later part file), shuffled
rows, missing snapshot days (single days, multi-day outages, one platform-wide day).

The same seed and chunk size give the same world; the world does not depend on ``inject_faults`` except
for the faults themselves.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from components.contract.tables import INDEX_SYMBOL, TABLES
from components.simulator.market_data import SECTORS, load_closes, market_table, sectors_table

logger = logging.getLogger(__name__)

WORLD_TABLES = ("accounts", "trades", "snapshots", "market", "sectors", "truth")
COUNTRIES = ("GB", "DE", "FR", "IT", "ES", "AU", "NL", "PL", "SE", "AE")
COUNTRY_WEIGHTS = (0.25, 0.15, 0.12, 0.1, 0.1, 0.08, 0.06, 0.05, 0.05, 0.04)
STYLES = ("ordinary", "meme", "gambler")
SESSION_SECONDS = (9 * 3600 + 30 * 60, 16 * 3600)
SEQ_BITS = 20  # trades per account < 2**20 in a trade_id key


@dataclass(frozen=True)
class WorldParams:
    """Knobs of the simulated platform; the defaults are the demo world."""

    share_skilled: float = 0.20
    share_negative: float = 0.10
    skill_range: tuple[float, float] = (0.02, 0.10)
    share_meme: float = 0.15
    share_gambler: float = 0.15
    leverage: tuple[tuple[float, float], ...] = ((0.3, 1.3), (0.8, 1.5), (1.5, 2.0))  # per style
    holdings: tuple[tuple[int, int], ...] = ((2, 10), (1, 5), (1, 2))  # per style
    hot_weight: tuple[float, float] = (0.5, 1.0)
    hot_lookback_days: int = 21
    rebalance_days: tuple[int, int] = (3, 60)
    taste_sectors: tuple[int, int] = (2, 5)
    index_taste: float = 0.3
    early_open_share: float = 0.4
    early_open_days: int = 63
    median_deposit: float = 2000.0
    flow_rate: float = 1 / 42
    flow_size: float = 0.25
    withdraw_share: float = 0.35
    max_withdrawal: float = 0.25
    fee_rate: float = 0.0005
    min_trade_fraction: float = 0.01
    blowup_fraction: float = 0.3
    quit_rate: float = 0.15 / 252
    duplicate_rate: float = 0.003
    bad_quantity_rate: float = 0.0005
    bad_price_rate: float = 0.0005
    unknown_symbol_rate: float = 0.001
    late_rate: float = 0.005
    missing_day_rate: float = 0.0005
    outage_share: float = 0.02
    outage_days: tuple[int, int] = (2, 5)


@dataclass(frozen=True)
class Market:
    """Closes of an extended window around the simulated days (history for signals, future for skill)."""

    symbols: np.ndarray
    days: np.ndarray
    close: np.ndarray
    log_close: np.ndarray
    first: int
    n_days: int
    hot: np.ndarray
    sector_codes: np.ndarray

    @property
    def n_sectors(self) -> int:
        return int(self.sector_codes.max()) + 1


@dataclass(frozen=True)
class Traits:
    """Latent traits of a chunk of accounts, one entry per account."""

    skill: np.ndarray
    archetype: np.ndarray
    leverage: np.ndarray
    n_hold: np.ndarray
    period: np.ndarray
    hot_weight: np.ndarray
    allowed: np.ndarray
    open_day: np.ndarray
    deposit: np.ndarray
    country: np.ndarray


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


def simulate_world(
    out_dir: Path,
    n_accounts: int,
    start: date,
    end: date,
    seed: int,
    *,
    chunk_size: int = 2500,
    inject_faults: bool = True,
    params: WorldParams | None = None,
) -> dict:
    """Write a simulated platform in the data contract under `out_dir`.

    The folders accounts/, trades/, snapshots/, market/, sectors/ and truth/ under `out_dir` are replaced.
    Trades and snapshots are written as one part file per chunk of accounts (trades shuffled, plus one
    more part for the last chunk's late trades when faults are injected).

    Args:
        out_dir: Directory that receives one folder of Parquet files per table.
        n_accounts: Number of accounts (all open on a trading day in [start, end]).
        start: First simulated day (inclusive).
        end: Last simulated day (inclusive).
        seed: Seed of every random draw.
        chunk_size: Accounts simulated at once: memory grows with chunk_size times days, not n_accounts.
        inject_faults: Inject the faults of real feeds; False writes the clean world.
        params: Knobs of the platform; the defaults are the demo world.

    Returns:
        A small summary: ``rows`` written per table, ``faults`` injected per kind (rows), the trading
        days and the platform-wide missing snapshot day (ISO date or None).

    Example:
        >>> summary = simulate_world(Path("/tmp/world"), 200, date(2020, 1, 1), date(2020, 6, 30), seed=1)
        >>> sorted(summary["rows"])
        ['accounts', 'market', 'sectors', 'snapshots', 'trades', 'truth']
    """
    if n_accounts < 1 or chunk_size < 1:
        raise ValueError(f"n_accounts and chunk_size must be >= 1, got {n_accounts} and {chunk_size}.")
    params = params or WorldParams()
    market = build_market(start, end, params)
    out_dir = Path(out_dir)
    reset_tables(out_dir)
    rows = write_part(out_dir, 0, {"market": _arrow(market_table(start, end), "market")})
    rows += write_part(out_dir, 0, {"sectors": _arrow(sectors_table(), "sectors")})
    platform_day = pick_platform_day(market, seed) if inject_faults else None
    faults, late = Counter(), None
    for part, offset in enumerate(range(0, n_accounts, chunk_size)):
        world = simulate_chunk(market, seed, offset, min(chunk_size, n_accounts - offset), params)
        keep = np.ones(len(world["snapshot_account"]), bool)
        if inject_faults:
            keep = drop_snapshot_days(world, faults, platform_day, params)
        tables = world_tables(world, market, seed, keep)
        if inject_faults:
            tables["trades"], late = corrupt_trades(tables["trades"], late, world, faults, params)
        rows += write_part(out_dir, part, tables)
        logger.info("simulated accounts %d-%d of %d", offset, offset + len(world["skill"]), n_accounts)
    if late is not None:
        rows += write_part(out_dir, part + 1, {"trades": late})
    return _summary(rows, faults, market, platform_day)


def build_market(start: date, end: date, params: WorldParams) -> Market:
    """The closes of [start, end] plus the history and future the accounts' signals need."""
    closes = load_closes()
    first = int(closes.index.searchsorted(np.datetime64(start)))
    stop = int(closes.index.searchsorted(np.datetime64(end), side="right"))
    if stop <= first:
        raise ValueError(f"No trading day between {start} and {end}: the data covers 1990-01-02..2022-12-28.")
    lo = max(first - params.hot_lookback_days, 0)
    window = closes.iloc[lo : stop + params.rebalance_days[1]]
    symbols = np.array(window.columns)
    log_close = np.log(window.to_numpy())
    return Market(
        symbols=symbols,
        days=window.index.to_numpy().astype("datetime64[D]"),
        close=window.to_numpy(),
        log_close=log_close,
        first=first - lo,
        n_days=stop - first,
        hot=hot_symbols(log_close, symbols, params.hot_lookback_days),
        sector_codes=sector_codes(symbols),
    )


def hot_symbols(log_close: np.ndarray, symbols: np.ndarray, lookback: int) -> np.ndarray:
    """Per day, the index of the stock (never the index) with the best trailing `lookback`-day return."""
    back = np.maximum(np.arange(len(log_close)) - lookback, 0)
    trailing = log_close - log_close[back]
    trailing[:, symbols == INDEX_SYMBOL] = -np.inf
    return trailing.argmax(axis=1)


def sector_codes(symbols: np.ndarray) -> np.ndarray:
    """An integer code per symbol's sector, -1 for the index."""
    names = sorted({SECTORS[s] for s in symbols if s != INDEX_SYMBOL})
    return np.array([-1 if s == INDEX_SYMBOL else names.index(SECTORS[s]) for s in symbols])


def reset_tables(out_dir: Path) -> None:
    """Remove the simulator's table folders under `out_dir` (only those), so no stale part survives."""
    for name in WORLD_TABLES:
        shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / name).mkdir(parents=True)


def pick_platform_day(market: Market, seed: int) -> int | None:
    """The simulated day missing from every account's snapshots (never the first or last day)."""
    if market.n_days < 3:
        return None
    return int(np.random.default_rng([seed, 3]).integers(1, market.n_days - 1))


# --- one chunk of accounts ------------------------------------------------------------------------------


def simulate_chunk(market: Market, seed: int, offset: int, size: int, params: WorldParams) -> dict:
    """Simulate `size` accounts (global indices from `offset`) over the market's days; raw arrays."""
    rng = np.random.default_rng([seed, 0, offset])
    traits = draw_traits(rng, size, market, params)
    book = Book.empty(size, len(market.symbols))
    for day in range(market.n_days):
        step_day(book, market, traits, rng, day, params)
    return chunk_arrays(book, traits, seed, offset, market.n_days)


def draw_traits(rng: np.random.Generator, size: int, market: Market, params: WorldParams) -> Traits:
    """Latent traits of `size` accounts (see the module docstring for the distributions)."""
    shares = (1 - params.share_meme - params.share_gambler, params.share_meme, params.share_gambler)
    style = rng.choice(len(STYLES), size, p=shares)
    skill = draw_skill(rng, size, params)
    lev_lo, lev_hi = np.array(params.leverage).T
    hold_lo, hold_hi = np.array(params.holdings).T
    return Traits(
        skill=skill,
        archetype=archetypes(style, skill),
        leverage=rng.uniform(lev_lo[style], lev_hi[style]),
        n_hold=rng.integers(hold_lo[style], hold_hi[style] + 1),
        period=np.rint(np.exp(rng.uniform(*np.log(params.rebalance_days), size))).astype(int),
        hot_weight=np.where(style == STYLES.index("meme"), rng.uniform(*params.hot_weight, size), 0.0),
        allowed=draw_taste(rng, size, market, params),
        open_day=draw_open_days(rng, size, market.n_days, params),
        deposit=np.maximum(np.round(rng.lognormal(np.log(params.median_deposit), 1.0, size), 2), 50.0),
        country=rng.choice(np.array(COUNTRIES), size, p=COUNTRY_WEIGHTS),
    )


def draw_skill(rng: np.random.Generator, size: int, params: WorldParams) -> np.ndarray:
    """Skill: 0 for most accounts, in ``skill_range`` for the skilled, its negative for the negative."""
    zero = 1 - params.share_skilled - params.share_negative
    kind = rng.choice(3, size, p=(zero, params.share_skilled, params.share_negative))
    magnitude = rng.uniform(*params.skill_range, size)
    return np.select([kind == 1, kind == 2], [magnitude, -magnitude], 0.0)


def archetypes(style: np.ndarray, skill: np.ndarray) -> np.ndarray:
    """The truth's archetype: the behaviour for meme and gambler accounts, else the sign of skill."""
    by_skill = np.array(["negative", "unskilled", "skilled"])[np.sign(skill).astype(int) + 1]
    return np.where(style == 0, by_skill, np.array(STYLES)[style])


def draw_taste(rng: np.random.Generator, size: int, market: Market, params: WorldParams) -> np.ndarray:
    """Which symbols each account trades: the stocks of a few sectors, and SPX for some."""
    wanted = rng.integers(params.taste_sectors[0], params.taste_sectors[1] + 1, size)
    liked = rng.random((size, market.n_sectors)).argsort(axis=1).argsort(axis=1) < wanted[:, None]
    stocks = market.sector_codes >= 0
    allowed = np.zeros((size, len(market.symbols)), bool)
    allowed[:, stocks] = liked[:, market.sector_codes[stocks]]
    allowed[:, ~stocks] = rng.random((size, 1)) < params.index_taste
    return allowed


def draw_open_days(rng: np.random.Generator, size: int, n_days: int, params: WorldParams) -> np.ndarray:
    """Opening day indices: many in the first quarter (long records), the rest spread to the end."""
    early = rng.random(size) < params.early_open_share
    return np.where(
        early, rng.integers(0, min(params.early_open_days, n_days), size), rng.integers(0, n_days, size)
    )


def step_day(
    book: Book, market: Market, traits: Traits, rng: np.random.Generator, day: int, params: WorldParams
) -> None:
    """One trading day: deposits at the open, closures and rebalances at the close, then the snapshot."""
    price = market.close[market.first + day]
    opening = traits.open_day == day
    alive = (traits.open_day <= day) & (book.closed_day < 0)
    flows = draw_flows(rng, alive & ~opening, book.equity, traits.deposit, params)
    apply_flows(book, np.where(opening, traits.deposit, flows))
    equity = book.cash + book.shares @ price
    closing = draw_closures(rng, alive & ~opening, equity, book.net_deposit, params)
    due = alive & ~closing & ((day - traits.open_day) % traits.period == 0)
    rebalancing, leaving = np.flatnonzero(due), np.flatnonzero(closing)
    targets = target_weights(market, market.first + day, traits, rebalancing, rng)
    targets = targets * equity[rebalancing, None] / price
    rows = np.concatenate([rebalancing, leaving])
    fill(book, day, rows, np.vstack([targets, np.zeros((len(leaving), len(price)))]), price, equity, params)
    book.closed_day[leaving] = day
    record(book, day, traits, price)


def draw_flows(
    rng: np.random.Generator,
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
    rng: np.random.Generator,
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
    market: Market, x: int, traits: Traits, rows: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Target weights (of equity) of the accounts `rows` rebalancing on extended day `x`."""
    signal = private_signal(market, x, traits.period[rows], traits.skill[rows], rng)
    picks = top_n(np.where(traits.allowed[rows], signal, -np.inf), traits.n_hold[rows])
    spread = picks / picks.sum(axis=1, keepdims=True)
    hot = np.arange(len(market.symbols)) == market.hot[x]
    tilt = traits.hot_weight[rows, None]
    return traits.leverage[rows, None] * ((1 - tilt) * spread + tilt * hot)


def private_signal(
    market: Market, x: int, horizon: np.ndarray, skill: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``skill * zscore(forward log return over the horizon) + sqrt(1 - skill**2) * noise``, per symbol."""
    future = np.minimum(x + horizon, len(market.days) - 1)
    forward = market.log_close[future] - market.log_close[x]
    noise = rng.standard_normal(forward.shape)
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


def chunk_arrays(book: Book, traits: Traits, seed: int, offset: int, n_days: int) -> dict:
    """The chunk's raw columns: accounts, fills and snapshot rows (account-major, by day)."""
    fills = [np.concatenate(column) for column in zip(*book.fills, strict=True)]
    snapshots = [np.concatenate(column) for column in zip(*book.snapshots, strict=True)]
    by_account = np.argsort(snapshots[0], kind="stable")
    account, day, equity, cash, net_deposit = (column[by_account] for column in snapshots)
    return {
        "offset": offset,
        "skill": traits.skill,
        "archetype": traits.archetype,
        "country": traits.country,
        "open_day": traits.open_day,
        "closed_day": book.closed_day,
        "last_day": np.where(book.closed_day >= 0, book.closed_day, n_days - 1),
        **dict(
            zip(
                ("fill_account", "fill_day", "fill_symbol", "fill_qty", "fill_price", "fill_fee"),
                fills,
                strict=True,
            )
        ),
        "snapshot_account": account,
        "snapshot_day": day,
        "snapshot_values": (equity, cash, net_deposit),
        "rng_faults": np.random.default_rng([seed, 1, offset]),
        "rng_order": np.random.default_rng([seed, 2, offset]),
    }


# --- arrow tables ---------------------------------------------------------------------------------------


def world_tables(world: dict, market: Market, seed: int, keep: np.ndarray) -> dict[str, pa.Table]:
    """The chunk's accounts, truth, trades (shuffled) and snapshots (rows in `keep`) as contract tables."""
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
    """The chunk's fills as trades, in random order, with opaque unique trade ids."""
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


def _arrow(frame, name: str) -> pa.Table:
    schema = pa.schema(TABLES[name])
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


# --- faults ---------------------------------------------------------------------------------------------


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
    trades: pa.Table, late_in: pa.Table | None, world: dict, faults: Counter, params: WorldParams
) -> tuple[pa.Table, pa.Table]:
    """Inject trade faults on disjoint rows; return this part (shuffled) and the rows for the next part.

    Late rows of the previous part (`late_in`) arrive in this one; this part's late rows are returned.
    """
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
    arrived = [trades.filter(~late), trades.take(picked["duplicate_trade"])]
    merged = pa.concat_tables(arrived if late_in is None else [*arrived, late_in])
    return merged.take(rng.permutation(merged.num_rows)), trades.filter(late)


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


# --- output ---------------------------------------------------------------------------------------------


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
