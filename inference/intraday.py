"""Fresh intraday adjustments of the feed: who blew up today, and what each investor did today.

The streaming job (`components.features.streaming`) pushes each account's intraday features
(``INTRADAY_FEATURES``: trades, notional, equity and return since its last daily snapshot) into the
online store, service ``intraday_v1``. The transformer reads them for its snapshot's candidates off the
request path, at each snapshot build and each poll, in one batched online read (`read_intraday`), and
aligns them with the snapshot's rows (`align`), so that a request applies them with array lookups:

- an investor whose fresh intraday equity is at or below 0 (liquidated, or blown up today) is left out
  of today's feed: a copier would follow an empty portfolio;
- each investor shown carries its fresh intraday return and trades (null where there are none), for
  display only. The feed is never re-ranked by them: one day's return is mostly luck, and ranking by it
  would chase luck, which is what the model's evidence since inception exists to avoid.

Values older than the view's ttl count as missing (the SQLite online store returns them regardless);
with the view not registered or nothing pushed, there are no values and the feed is as without them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from feast import FeatureStore
from feast.errors import FeatureServiceNotFoundException, FeatureViewNotFoundException
from feast.online_response import TIMESTAMP_POSTFIX

from feature_repo.definitions import account_intraday_features, intraday_v1
from feature_repo.feature_schema import ENTITY_KEY, INTRADAY_FEATURES

EQUITY, RETURN, TRADES = "intraday_equity", "intraday_return", "intraday_trades"
SHOWN = (RETURN, TRADES)  # what a feed item shows; display only, never an ordering key
READ_TIMEOUT_SECONDS = 5.0  # one batched read of a thousand entities takes a fraction of a second
NO_INTRADAY = dict.fromkeys(SHOWN)  # what an item shows without fresh values


@dataclass(frozen=True)
class IntradayValues:
    """One online read: the fresh intraday features by account id (what a failed read keeps).

    Attributes:
        frame: Indexed by account_id, one column per intraday feature, NaN where not fresh; only
            accounts with a fresh value.
        read_at: Unix time of the read.
    """

    frame: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(INTRADAY_FEATURES), dtype=float)
    )
    read_at: float = 0.0


@dataclass(frozen=True)
class IntradayColumns:
    """Intraday values aligned with a snapshot's rows: what a request reads.

    Attributes:
        followable: False where the fresh intraday equity is at or below 0 (left out of the feed).
        returns: The fresh intraday return per row (NaN: none).
        trades: The fresh intraday trades per row (NaN: none).
    """

    followable: np.ndarray
    returns: np.ndarray
    trades: np.ndarray

    def shown(self, row: int) -> dict[str, float | int | None]:
        """What the item of `row` shows: its intraday return and trades, null where not fresh."""
        value, count = self.returns[row], self.trades[row]
        return {
            RETURN: None if np.isnan(value) else float(value),
            TRADES: None if np.isnan(count) else int(count),
        }


def read_intraday(store: FeatureStore, account_ids: list[str], now: float | None = None) -> IntradayValues:
    """The fresh intraday features of `account_ids`, in one batched online read of ``intraday_v1``.

    A value is fresh when its event is at most the view's ttl old at `now` (default: the time of the
    read). A store where the service is not registered (the streaming job never ran) has none.

    Raises:
        Exception: Whatever the online store raises when it cannot be read (the caller keeps the last
            values).
    """
    now = time.time() if now is None else now
    if not account_ids:
        return IntradayValues(read_at=now)
    try:
        response = store.get_online_features(
            features=intraday_v1, entity_rows=[{ENTITY_KEY: a} for a in account_ids]
        )
    except (FeatureServiceNotFoundException, FeatureViewNotFoundException):
        return IntradayValues(read_at=now)
    read = response.to_df(include_event_timestamps=True).set_index(ENTITY_KEY)
    max_age = account_intraday_features.ttl.total_seconds()
    fresh = pd.DataFrame(
        {
            name: read[name].astype(float).where((now - read[name + TIMESTAMP_POSTFIX]) <= max_age)
            for name in INTRADAY_FEATURES
        },
        index=read.index,
    )
    return IntradayValues(fresh[fresh.notna().any(axis=1)], now)


def align(values: IntradayValues, account_ids: np.ndarray) -> IntradayColumns | None:
    """`values` in the order of a snapshot's `account_ids`; None when none of them has a fresh value.

    Example:
        >>> frame = pd.DataFrame({"intraday_trades": [2.0], "intraday_notional": [900.0],
        ...     "intraday_equity": [0.0], "intraday_return": [-1.0]}, index=["b"])
        >>> columns = align(IntradayValues(frame), np.array(["a", "b"], dtype=object))
        >>> columns.followable.tolist(), columns.shown(1)
        ([True, False], {'intraday_return': -1.0, 'intraday_trades': 2})
        >>> align(IntradayValues(), np.array(["a"], dtype=object)) is None
        True
    """
    rows = values.frame.reindex(pd.Index(account_ids, dtype=object))
    if rows.isna().all(axis=None):
        return None
    equity = rows[EQUITY].to_numpy(dtype=float)
    return IntradayColumns(
        followable=~(equity <= 0),  # NaN (no fresh equity) compares False: followable
        returns=rows[RETURN].to_numpy(dtype=float),
        trades=rows[TRADES].to_numpy(dtype=float),
    )


def shown(intraday: IntradayColumns | None, row: int) -> dict[str, float | int | None]:
    """What the item of `row` shows of the day (all null without fresh values)."""
    return NO_INTRADAY if intraday is None else intraday.shown(row)
