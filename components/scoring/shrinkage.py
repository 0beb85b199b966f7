"""Empirical-Bayes shrinkage: trust a score in proportion to the evidence behind it.

An account's score is a noisy estimate of its skill. With a normal prior over the population's skill,
N(prior_mean, prior_variance), and a score with standard error se, the posterior mean is

    prior_mean + w · (score − prior_mean),   w = prior_variance / (prior_variance + se²).

A long, steady track record (small se) keeps its score (w near 1); a short or noisy one is pulled toward
the population's mean (w near 0). The prior is learned from the scores themselves (method of moments).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

TRADING_DAYS_PER_YEAR = 252


def score_standard_error(track_record_days: ArrayLike, sharpe_annualised: ArrayLike) -> np.ndarray:
    """Standard error of an annualised Sharpe ratio measured on `track_record_days` daily returns.

    ``sqrt((1 + SR_d² / 2) / n) · sqrt(252)`` with SR_d the daily Sharpe ratio (Lo, 2002, for i.i.d.
    returns): about 1 for one year of returns, 2 for a quarter. No returns give an infinite error.

    Args:
        track_record_days: Number of daily returns n (non-negative).
        sharpe_annualised: The annualised Sharpe ratio measured on them.

    Returns:
        Standard errors in annualised Sharpe units; NaN where an input is NaN.

    Raises:
        ValueError: A negative number of days.

    Example:
        >>> score_standard_error([252, 63, 0], [0.0, 0.0, 1.0]).tolist()
        [1.0, 2.0, inf]
    """
    days = np.asarray(track_record_days, dtype=float)
    if np.any(days < 0):
        raise ValueError(f"track_record_days must be non-negative, got {np.nanmin(days)}")
    daily_sharpe = np.asarray(sharpe_annualised, dtype=float) / np.sqrt(TRADING_DAYS_PER_YEAR)
    with np.errstate(divide="ignore"):
        return np.sqrt((1 + daily_sharpe**2 / 2) / days * TRADING_DAYS_PER_YEAR)


def shrinkage_weights(standard_errors: ArrayLike, prior_variance: float) -> np.ndarray:
    """Weight w = prior_variance / (prior_variance + se²) of each score's own evidence, in [0, 1].

    Raises:
        ValueError: A negative or NaN standard error (an infinite one means no evidence: w = 0).
    """
    se = np.asarray(standard_errors, dtype=float)
    if np.any(np.isnan(se)) or np.any(se < 0):
        raise ValueError("standard errors must be non-negative numbers (inf for no evidence), not NaN")
    return prior_variance / (prior_variance + se**2)


def posterior_means(
    scores: ArrayLike, standard_errors: ArrayLike, prior_mean: float, prior_variance: float
) -> np.ndarray:
    """``prior_mean + w · (score − prior_mean)``; a score with no evidence (w = 0) is the prior mean."""
    scores = _aligned(scores, standard_errors)
    weights = shrinkage_weights(standard_errors, prior_variance)
    return prior_mean + np.where(weights > 0, weights * (scores - prior_mean), 0.0)


def _aligned(scores: ArrayLike, standard_errors: ArrayLike) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.shape != np.shape(standard_errors):
        raise ValueError(
            f"scores and standard_errors must have the same length, got {scores.shape} and "
            f"{np.shape(standard_errors)}"
        )
    return scores


class EmpiricalBayesShrinkage(BaseEstimator):
    """Shrink noisy scores toward the population's mean, each by the weight its evidence earns.

    `fit` learns the prior by the method of moments: the spread of the scores is the spread of skill
    plus the spread of noise, so ``prior_variance_ = var(scores) − mean(se²)`` (sample variance),
    floored at `min_prior_variance` when the noise explains all the spread. The floor keeps every
    weight positive, so more evidence still earns more weight when the scores look like pure noise.

    Args:
        min_prior_variance: Smallest prior variance, in squared score units.

    Attributes:
        prior_mean_: Mean of the scores the estimator was fitted on.
        prior_variance_: Variance of the skill behind them.

    Example:
        >>> shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 5.0], [1.0, 1.0, 1.0])
        >>> shrink.prior_mean_, shrink.prior_variance_  # var = 4, mean se² = 1
        (3.0, 3.0)
        >>> shrink.transform([5.0], [1.0]).tolist()  # 3 + 3/4 · (5 − 3)
        [4.5]
    """

    def __init__(self, *, min_prior_variance: float = 1e-4):
        self.min_prior_variance = min_prior_variance

    def fit(self, scores: ArrayLike, standard_errors: ArrayLike) -> EmpiricalBayesShrinkage:
        """Learn the prior from `scores` and their finite `standard_errors`.

        Raises:
            ValueError: Mismatched lengths, fewer than 2 scores with finite standard errors, NaN scores,
                negative or NaN standard errors, or a non-positive `min_prior_variance`.
        """
        if not self.min_prior_variance > 0:
            raise ValueError(f"min_prior_variance must be positive, got {self.min_prior_variance}")
        scores = _aligned(scores, standard_errors)
        se = np.asarray(standard_errors, dtype=float)
        shrinkage_weights(se, 1.0)  # validates the standard errors
        if np.any(np.isnan(scores)):
            raise ValueError("scores must not be NaN")
        informative = np.isfinite(se)
        if informative.sum() < 2:
            raise ValueError(
                f"fit needs at least 2 scores with finite standard errors, got {informative.sum()}"
            )
        scores, se = scores[informative], se[informative]
        self.prior_mean_ = float(np.mean(scores))
        moments = float(np.var(scores, ddof=1) - np.mean(se**2))
        self.prior_variance_ = max(moments, self.min_prior_variance)
        return self

    def transform(self, scores: ArrayLike, standard_errors: ArrayLike) -> np.ndarray:
        """Posterior means of `scores`: each pulled toward `prior_mean_` by ``1 − w``."""
        check_is_fitted(self, ["prior_mean_", "prior_variance_"])
        return posterior_means(scores, standard_errors, self.prior_mean_, self.prior_variance_)

    def weights(self, standard_errors: ArrayLike) -> np.ndarray:
        """How much of each score is its own evidence, w in [0, 1]: what the feed reports as confidence."""
        check_is_fitted(self, ["prior_mean_", "prior_variance_"])
        return shrinkage_weights(standard_errors, self.prior_variance_)
