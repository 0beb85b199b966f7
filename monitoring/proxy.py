"""Proxy labels: the 1-day forward performance of what the feed showed, long before the real labels mature.

For every date of the record (`monitoring.served`), the top K the feed showed are followed one trading day
(``fwd_return_1d``, written to ``labels/`` by the Spark job): their mean return minus the mean return of
every account of the platform that day (``top_k_excess_1d``), and the Spearman correlation between the
record's scores and that return (``ic_1d``, what the model predicted against what happened). A date whose
next trading day has not happened yet has no proxy label: delayed feedback, not a zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.evaluation.metrics import spearman_ic
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

PROXY_LABEL = "fwd_return_1d"
COLUMNS = [EVENT_TIMESTAMP, "top_k_excess_1d", "ic_1d", "top_k_labelled", "platform_labelled"]


def proxy_series(record: pd.DataFrame, labels: pd.DataFrame | None, top_k: int) -> pd.DataFrame:
    """The proxy labels of every date of `record`.

    Args:
        record: The feed's record: as_of_date, account_id, score, rank.
        labels: ``labels/`` rows (account_id, as_of_date, fwd_return_1d); None when there are none yet.
        top_k: How many of the feed's first accounts count as shown.

    Returns:
        One row per record date with the `COLUMNS` (NaN where the proxy label is not known yet).

    Example:
        >>> day = pd.Timestamp("2021-06-30")
        >>> record = pd.DataFrame({"as_of_date": [day] * 3, "account_id": ["a", "b", "c"],
        ...     "score": [3.0, 2.0, 1.0], "rank": [1, 2, 3]})
        >>> labels = pd.DataFrame({"as_of_date": [day] * 4, "account_id": ["a", "b", "c", "d"],
        ...     "fwd_return_1d": [0.03, 0.01, 0.0, 0.0]})
        >>> row = proxy_series(record, labels, top_k=1).iloc[0]
        >>> round(float(row["top_k_excess_1d"]), 4), float(row["ic_1d"])
        (0.02, 1.0)
    """
    rows = []
    by_date = {} if labels is None else dict(tuple(labels.groupby(EVENT_TIMESTAMP)))
    for as_of, shown in record.groupby(EVENT_TIMESTAMP):
        day = by_date.get(as_of)
        rows.append(window_proxy(as_of, shown, day, top_k))
    return pd.DataFrame(rows, columns=COLUMNS)


def window_proxy(as_of: pd.Timestamp, shown: pd.DataFrame, day: pd.DataFrame | None, top_k: int) -> dict:
    """The proxy labels of one date: `shown` is its record, `day` the platform's labels that day."""
    if day is None or day[PROXY_LABEL].notna().sum() == 0:
        return {EVENT_TIMESTAMP: as_of, "top_k_excess_1d": np.nan, "ic_1d": np.nan}
    day = day[day[PROXY_LABEL].notna()]
    joined = shown.merge(day[[ENTITY_KEY, PROXY_LABEL]], on=ENTITY_KEY, how="inner")
    top = joined[joined["rank"] <= top_k]
    excess = top[PROXY_LABEL].mean() - day[PROXY_LABEL].mean() if len(top) else np.nan
    return {
        EVENT_TIMESTAMP: as_of,
        "top_k_excess_1d": float(excess),
        "ic_1d": spearman_ic(joined[PROXY_LABEL], joined["score"]),
        "top_k_labelled": len(top),
        "platform_labelled": len(day),
    }
