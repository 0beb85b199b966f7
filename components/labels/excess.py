"""Longer, market-adjusted forward labels, derived in pandas from the Spark job's 30-day windows.

One month of returns says almost nothing about skill (the Sharpe ratio over 21 days has a standard
error near 3.5), and raw returns reward beta and leverage. These labels chain the next few monthly
windows of an account and take out what the S&P 500 paid for the account's beta (known at the
as-of date), so what is left is closer to the edge that skill produces.

Chaining uses consecutive as-of dates of the same account; the month-end windows meet within a day
or two, which a label of several months can afford. An account that closes stops its chain at its
last window (its realised outcome), so blow-ups stay in the training set rather than vanishing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.labels.definitions import LABEL_TABLE
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

# How many 30-day windows the derived labels chain (fwd_excess_ir_90d shares fwd_excess_90d's).
MONTHS = LABEL_TABLE["fwd_excess_90d"].window


def chained_growth(frame: pd.DataFrame, months: int) -> tuple[pd.Series, pd.Series]:
    """Compounded growth over up to `months` consecutive forward windows, and how many were chained."""
    dates = {date: i for i, date in enumerate(sorted(frame[EVENT_TIMESTAMP].unique()))}
    position = frame[EVENT_TIMESTAMP].map(dates)
    growth = 1 + frame["fwd_return_30d"]
    by_account = frame.groupby(ENTITY_KEY, sort=False)
    chain, used, going = growth.copy(), growth.notna().astype(int), growth.notna()
    for step in range(1, months):
        following = by_account["fwd_return_30d"].shift(-step)
        going &= following.notna() & (by_account[EVENT_TIMESTAMP].shift(-step).map(dates) == position + step)
        chain = chain.where(~going, chain * (1 + following))
        used += going.astype(int)
    return chain.where(growth.notna()), used


def market_growth(spx: pd.Series, frame: pd.DataFrame, used: pd.Series) -> pd.Series:
    """The S&P 500's growth from each as-of date over the same number of as-of steps."""
    dates = sorted(frame[EVENT_TIMESTAMP].unique())
    level = spx.reindex(pd.DatetimeIndex(dates), method="ffill").to_numpy()
    position = frame[EVENT_TIMESTAMP].map({date: i for i, date in enumerate(dates)}).to_numpy()
    end = np.minimum(position + used.to_numpy(), len(dates) - 1)
    return pd.Series(level[end] / level[position], index=frame.index)


def add_excess_labels(frame: pd.DataFrame, spx: pd.Series, months: int = MONTHS) -> pd.DataFrame:
    """Add ``fwd_excess_90d`` and ``fwd_excess_ir_90d`` (null where ``fwd_return_30d`` is).

    - ``fwd_excess_90d``: chained forward return minus beta_12m times the S&P 500's return over the
      same months (beta 1 when unknown);
    - ``fwd_excess_ir_90d``: that excess divided by the account's volatility over the horizon
      (volatility_12m scaled to the months chained): an information ratio, so leverage alone does
      not buy a high label.

    Args:
        frame: Rows (account_id, as_of_date) with fwd_return_30d, beta_12m and volatility_12m.
        spx: S&P 500 closes indexed by date.
        months: How many monthly windows to chain.
    """
    frame = frame.sort_values([ENTITY_KEY, EVENT_TIMESTAMP]).reset_index(drop=True)
    growth, used = chained_growth(frame, months)
    market = market_growth(spx, frame, used)
    excess = (growth - 1) - frame["beta_12m"].fillna(1.0) * (market - 1)
    horizon_vol = frame["volatility_12m"] * np.sqrt(used.clip(lower=1) / 12)
    return frame.assign(
        fwd_excess_90d=excess,
        fwd_excess_ir_90d=excess / horizon_vol.where(horizon_vol > 0),
    )
