"""Turn raw model predictions into the feed's ordering key: one function for batch and serving.

The batch `scores/` table and the KServe transformer both call `finalize_scores`, so the feed orders
investors exactly as `scores/` does for the same features and model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252
STATUS_NEW = "new"
STATUS_ESTABLISHED = "established"


def finalize_scores(
    account_ids: pd.Series | list[str],
    raw_scores: np.ndarray | list[float],
    track_record_days: np.ndarray | list[float],
    *,
    min_track_record_days: int,
    neutral_score: float,
) -> pd.DataFrame:
    """Final score, confidence and status per account.

    Accounts below the minimum track record get the model's neutral score and status ``new``: the
    model cannot tell their skill yet, so they are neither promoted nor buried.

    Args:
        account_ids: Account ids, aligned with the other arrays.
        raw_scores: The ranking model's predictions.
        track_record_days: Number of daily returns each account has.
        min_track_record_days: Below this an account is ``new``.
        neutral_score: The score given to ``new`` accounts (a property of the model).

    Returns:
        DataFrame with account_id, score, confidence (0..1, grows with the track record) and status,
        sorted by score descending, ties broken by account_id.

    Example:
        >>> finalize_scores(["a", "b"], [0.5, 2.0], [300, 10], min_track_record_days=63,
        ...                 neutral_score=0.1)[["account_id", "score", "status"]].values.tolist()
        [['a', 0.5, 'established'], ['b', 0.1, 'new']]
    """
    days = np.nan_to_num(np.asarray(track_record_days, dtype=float), nan=0.0)
    is_new = days < min_track_record_days
    raw = np.asarray(raw_scores, dtype=float)
    frame = pd.DataFrame(
        {
            "account_id": pd.Series(account_ids, dtype="string").to_numpy(),
            "score": np.where(is_new, neutral_score, raw),
            "confidence": np.clip(days / TRADING_DAYS_PER_YEAR, 0.0, 1.0),
            "status": np.where(is_new, STATUS_NEW, STATUS_ESTABLISHED),
        }
    )
    return rank_order(frame)


def rank_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by score descending with account_id as the tie-break, the one order used everywhere."""
    return frame.sort_values(["score", "account_id"], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )
