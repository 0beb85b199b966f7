"""Ranking metrics: NDCG@k and Spearman IC, from scikit-learn and SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score


def relevance(values: np.ndarray | pd.Series) -> np.ndarray:
    """Percentile rank in (0, 1]: NDCG needs non-negative gains, and returns and skill can be negative."""
    return pd.Series(np.asarray(values, dtype=float)).rank(pct=True).to_numpy()


def ndcg_at_k(truth: np.ndarray | pd.Series, score: np.ndarray | pd.Series, k: int) -> float:
    """NDCG@k of ranking by `score`, with the percentile rank of `truth` as the gain.

    Example:
        >>> round(ndcg_at_k([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], k=3), 6)
        1.0
    """
    truth, score = np.asarray(truth, dtype=float), np.asarray(score, dtype=float)
    if len(truth) < 2:
        return float("nan")
    return float(ndcg_score(relevance(truth)[None, :], score[None, :], k=k))


def spearman_ic(truth: np.ndarray | pd.Series, score: np.ndarray | pd.Series) -> float:
    """Spearman rank correlation between `score` and `truth` (the information coefficient)."""
    if len(truth) < 3:
        return float("nan")
    return float(spearmanr(truth, score).statistic)


def ranking_metrics(truth: pd.Series, score: pd.Series, k: int, prefix: str) -> dict[str, float]:
    """NDCG@k and Spearman IC of `score` against `truth`, keyed ``<prefix>_ndcg_at_<k>`` / ``_ic``."""
    valid = truth.notna() & score.notna()
    return {
        f"{prefix}_ndcg_at_{k}": ndcg_at_k(truth[valid], score[valid], k),
        f"{prefix}_ic": spearman_ic(truth[valid], score[valid]),
    }
