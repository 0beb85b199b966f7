"""The platform simulator: a seeded, vectorised world of accounts, trades and snapshots on real closes.

No public trade-level data of retail investors exists, so `simulate_world` writes the platform's tables
(``accounts/``, ``trades/``, ``snapshots/``) on top of the real closes of `market_data`, plus ``market/``,
``sectors/`` and the ground truth ``truth/``, exactly in ``components.contract.tables.TABLES``. Each
account has latent traits (`traits`: skill, holdings, leverage, rebalancing period, sector taste, a meme
or gambler behaviour, open date, deposits; `WorldParams` holds their knobs, `params`). Skill is the
information coefficient of a noisy private signal about the account's symbols' forward returns and acts
only through the trades that signal chooses, never as a drift on returns (`trading`, the daily step),
so luck (leverage, one hot stock, a bull market) often beats it over short windows. The faults real
feeds have (duplicate, corrupt, late and unknown-symbol trades; missing snapshot days) are injected
afterwards and counted (`faults`); `tables` builds the contract tables with opaque ids, and `world` runs
the chunks of accounts and writes them. Every draw belongs to a seeding block of accounts (`streams`),
so the world does not depend on the chunk size.
"""

from components.lazy import lazy_exports
from components.simulator.params import WorldParams

# `simulate_world` on first use: its module loads the real closes (skfolio, scipy, sklearn: seconds),
# which every command that only reads `WorldParams` (the CLI's --help) would otherwise pay.
__all__ = ["WorldParams", "simulate_world"]
__getattr__ = lazy_exports(__name__, {"simulate_world": "components.simulator.world"})
