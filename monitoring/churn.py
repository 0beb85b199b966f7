"""Top-K churn: the share of the feed's first K accounts that were not there at the previous date.

`monitoring.job.churn_step` keeps it only between consecutive windows the served model served.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

CHURN_K = 10
COLUMNS = [EVENT_TIMESTAMP, f"top{CHURN_K}_churn"]


def churn_series(record: pd.DataFrame, k: int = CHURN_K) -> pd.DataFrame:
    """Top-`k` churn of each record date against the date before it (NaN for the first date).

    Args:
        record: The feed's record: as_of_date, account_id, rank.
        k: How many of the feed's first accounts are compared.

    Returns:
        One row per record date: as_of_date and ``top<k>_churn`` in [0, 1].

    Example:
        >>> record = pd.DataFrame({"as_of_date": pd.to_datetime(["2021-05-31"] * 2 + ["2021-06-30"] * 2),
        ...     "account_id": ["a", "b", "b", "c"], "rank": [1, 2, 1, 2]})
        >>> churn_series(record, k=2)["top2_churn"].tolist()
        [nan, 0.5]
    """
    rows, previous = [], None
    for as_of, shown in record.groupby(EVENT_TIMESTAMP):
        top = set(shown.loc[shown["rank"] <= k, ENTITY_KEY])
        churn = np.nan if previous is None or not top else 1 - len(top & previous) / len(top)
        rows.append({EVENT_TIMESTAMP: as_of, f"top{k}_churn": churn})
        previous = top
    return pd.DataFrame(rows, columns=[EVENT_TIMESTAMP, f"top{k}_churn"])
