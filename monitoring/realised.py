"""Realised labels: how the feed of a past date ranked once the label the model learns has matured.

The ranker's label (e.g. ``fwd_alpha_tstat_12m``) is known only after its horizon. For every date of the
record whose label has matured for most of its accounts, the NDCG@100 and the Spearman IC of the record's
scores against it: the model's real quality, months late.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.evaluation.metrics import ndcg_at_k, spearman_ic
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

NDCG_K = 100
MIN_MATURED_SHARE = 0.5  # a date counts once its label is known for this share of its accounts
COLUMNS = [EVENT_TIMESTAMP, f"realised_ndcg_at_{NDCG_K}", "realised_ic", "matured_share"]


def realised_series(record: pd.DataFrame, labels: pd.DataFrame | None, label: str) -> pd.DataFrame:
    """NDCG@100 and IC of each record date's scores against `label`, where it has matured.

    Args:
        record: The feed's record: as_of_date, account_id, score.
        labels: ``labels/`` rows with the `label` column; None when there are none yet.
        label: The label the served model learned.

    Returns:
        One row per record date with the `COLUMNS` (NaN before the label matured).

    Example:
        >>> day = pd.Timestamp("2020-06-30")
        >>> record = pd.DataFrame({"as_of_date": [day] * 4, "account_id": ["a", "b", "c", "d"],
        ...     "score": [4.0, 3.0, 2.0, 1.0]})
        >>> labels = pd.DataFrame({"as_of_date": [day] * 4, "account_id": ["a", "b", "c", "d"],
        ...     "y": [2.0, 1.0, 0.5, None]})
        >>> row = realised_series(record, labels, "y").iloc[0]
        >>> float(row["realised_ic"]), float(row["matured_share"])
        (1.0, 0.75)
    """
    rows = []
    for as_of, shown in record.groupby(EVENT_TIMESTAMP):
        joined = (
            shown
            if labels is None
            else shown.merge(
                labels.loc[labels[EVENT_TIMESTAMP] == as_of, [ENTITY_KEY, label]], on=ENTITY_KEY, how="left"
            )
        )
        known = joined[label].notna() if label in joined else pd.Series(False, index=joined.index)
        share = float(known.mean()) if len(joined) else 0.0
        ndcg = ic = np.nan
        if share >= MIN_MATURED_SHARE:
            ndcg = ndcg_at_k(joined.loc[known, label], joined.loc[known, "score"], NDCG_K)
            ic = spearman_ic(joined.loc[known, label], joined.loc[known, "score"])
        rows.append({EVENT_TIMESTAMP: as_of, COLUMNS[1]: ndcg, "realised_ic": ic, "matured_share": share})
    return pd.DataFrame(rows, columns=COLUMNS)
