"""The knobs of the simulated platform (`WorldParams`) and its fixed constants.

A regime change (`regime_start`, off by default) makes the world's second half behave differently:
from that day on, a share of the accounts (``regime_share``, drawn from a stream of their own, so the
other draws stay as they were) hold at most ``regime_holdings`` names at ``regime_leverage`` times their
leverage at each rebalance, as investors do after a crash. With ``regime_start=None`` the world is the
same to the byte as without the knob.

The constants: the tables the simulator writes, the accounts' countries and behaviour styles, the trading
session that timestamps a fill, and the bits of an account's trade sequence in a trade id key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

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
    # Regime change (off by default): from regime_start, a share of the accounts concentrate and de-lever.
    regime_start: date | None = None
    regime_share: float = 0.6
    regime_holdings: int = 1
    regime_leverage: float = 0.5

    @property
    def skill_prevalence(self) -> float:
        """The share of accounts with any skill, positive or negative."""
        return self.share_skilled + self.share_negative

    @classmethod
    def with_skill_prevalence(cls, prevalence: float, **knobs) -> WorldParams:
        """A world where a share `prevalence` of the accounts has skill, split between positive and
        negative skill as in the demo world (2 to 1); 0 is a world where nobody is skilled.

        Raises:
            ValueError: `prevalence` outside [0, 1].

        Example:
            >>> params = WorldParams.with_skill_prevalence(0.6)
            >>> round(params.share_skilled, 3), round(params.share_negative, 3)
            (0.4, 0.2)
            >>> WorldParams.with_skill_prevalence(0.0).skill_prevalence
            0.0
        """
        if not 0 <= prevalence <= 1:
            raise ValueError(f"the skill prevalence is a share of accounts in [0, 1], got {prevalence}")
        demo = cls()
        if math.isclose(prevalence, demo.skill_prevalence):  # the demo world's own shares, to the byte
            return cls(**knobs)
        positive = demo.share_skilled / demo.skill_prevalence
        return cls(share_skilled=prevalence * positive, share_negative=prevalence * (1 - positive), **knobs)
