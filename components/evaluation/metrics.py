"""Ranking metrics: NDCG@k (with the gain each target needs) and Spearman IC, from scikit-learn and SciPy.

Two gains, because two targets:

- the forward **label** (a t-statistic or a Sharpe ratio, negative as often as positive) gains its
  cross-sectional percentile rank: NDCG needs non-negative gains, and the rank keeps its whole order;
- latent **skill** gains ``max(skill, 0)``: finding the skilled is the whole point, and ranking one
  no-skill account above another earns nothing. With most accounts at zero skill a percentile gain
  would reward the order among the ties, and a random ranking would already score about 0.5; with the
  positive part a random ranking scores about the share of skill in the top k (`random_ndcg_at_k`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score

Gain = Callable[[np.ndarray], np.ndarray]


def relevance(values: np.ndarray | pd.Series) -> np.ndarray:
    """Percentile rank in (0, 1]: NDCG needs non-negative gains, and returns and skill can be negative."""
    return pd.Series(np.asarray(values, dtype=float)).rank(pct=True).to_numpy()


def positive_part(values: np.ndarray | pd.Series) -> np.ndarray:
    """``max(value, 0)``: the gain of latent skill (no skill and negative skill earn nothing).

    Example:
        >>> positive_part([-0.1, 0.0, 0.05]).tolist()
        [0.0, 0.0, 0.05]
    """
    return np.maximum(np.asarray(values, dtype=float), 0.0)


GAINS: dict[str, Gain] = {"label": relevance, "skill": positive_part}  # by evaluation target


def ndcg_at_k(
    truth: np.ndarray | pd.Series, score: np.ndarray | pd.Series, k: int, gain: Gain = relevance
) -> float:
    """NDCG@k of ranking by `score`, with ``gain(truth)`` as the gain (the percentile rank by default).

    NaN with fewer than 2 accounts, or when no account has a positive gain (nothing to find: a world
    without skill has no NDCG against skill).

    Example:
        >>> round(ndcg_at_k([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], k=3), 6)
        1.0
        >>> round(ndcg_at_k([0.0, 0.0, 0.1], [0.3, 0.2, 0.1], k=1, gain=positive_part), 6)
        0.0
    """
    truth, score = np.asarray(truth, dtype=float), np.asarray(score, dtype=float)
    if len(truth) < 2:
        return float("nan")
    gains = gain(truth)
    if not np.any(gains > 0):
        return float("nan")
    return float(ndcg_score(gains[None, :], score[None, :], k=k))


def random_ndcg_at_k(truth: np.ndarray | pd.Series, k: int, gain: Gain = relevance) -> float:
    """Expected NDCG@k of a random order: each of the top k positions holds the mean gain.

    ``mean(gain) · Σ_{i<k} 1/log2(i+2)`` over the ideal DCG@k; the level a scorer must beat to rank at
    all. NaN where `ndcg_at_k` is.

    Example:
        >>> round(random_ndcg_at_k([0.0, 0.0, 0.0, 1.0], k=1, gain=positive_part), 6)  # mean gain 1/4
        0.25
    """
    gains = gain(np.asarray(truth, dtype=float))
    if len(gains) < 2 or not np.any(gains > 0):
        return float("nan")
    cut = min(k, len(gains))
    discounts = 1 / np.log2(np.arange(cut) + 2)
    ideal = np.sort(gains)[::-1][:cut] @ discounts
    return float(gains.mean() * discounts.sum() / ideal)


def spearman_ic(truth: np.ndarray | pd.Series, score: np.ndarray | pd.Series) -> float:
    """Spearman rank correlation between `score` and `truth` (the information coefficient)."""
    if len(truth) < 3:
        return float("nan")
    return float(spearmanr(truth, score).statistic)


def ranking_metrics(
    truth: pd.Series, score: pd.Series, k: int, prefix: str, gain: Gain = relevance
) -> dict[str, float]:
    """NDCG@k and Spearman IC of `score` against `truth`, keyed ``<prefix>_ndcg_at_<k>`` / ``_ic``."""
    valid = truth.notna() & score.notna()
    return {
        f"{prefix}_ndcg_at_{k}": ndcg_at_k(truth[valid], score[valid], k, gain),
        f"{prefix}_ic": spearman_ic(truth[valid], score[valid]),
    }
