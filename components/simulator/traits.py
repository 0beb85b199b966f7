"""The latent traits of accounts, drawn from the seed (a seeding block at a time, see `streams`).

- skill: the information coefficient of the account's private signal (see
  ``components.simulator.trading``). 70% of accounts have skill 0, 20% skill in [0.02, 0.10], 10% in
  [-0.10, -0.02].
- behaviour, drawn independently of skill, and the ``archetype`` written to ``truth/``:
  ``meme`` (15%: puts 50-100% into the stock with the best trailing 21-day return at each rebalance),
  ``gambler`` (15%: 1-2 holdings at leverage 1.5-2.0); the other accounts (2-10 holdings at leverage
  0.3-1.3) are ``skilled``, ``unskilled`` or ``negative`` by the sign of their skill. A meme or gambler
  account may be skilled too: ``truth.skill`` is the only measure of skill.
- rebalancing period (3-60 trading days, log-uniform), sector taste (2-5 sectors, SPX for 30%),
  open date (40% in the first quarter, the rest uniform: accounts keep arriving), initial deposit
  (lognormal, median 2,000) and country.

The shares and ranges above are the defaults of `WorldParams`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from components.simulator.market import Market
from components.simulator.params import COUNTRIES, COUNTRY_WEIGHTS, STYLES, WorldParams


@dataclass(frozen=True)
class Traits:
    """Latent traits of a group of accounts, one entry (row) per account."""

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

    @classmethod
    def concat(cls, parts: list[Traits]) -> Traits:
        """The traits of consecutive groups of accounts (a chunk's seeding blocks) as one."""
        if len(parts) == 1:
            return parts[0]
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


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
