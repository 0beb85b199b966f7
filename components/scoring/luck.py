"""How likely a Sharpe ratio is to be luck: PSR, the deflated Sharpe ratio and the false discovery rate.

Pure NumPy / SciPy, vectorised over accounts. Sharpe ratios here are per period (per day for daily
returns) and not annualised: divide an annualised Sharpe by ``sqrt(252)`` first. Kurtosis is the plain
(non-excess) kurtosis, 3 for a normal distribution; add 3 to an excess kurtosis (what Spark's
``kurtosis`` and pandas' ``kurt`` return).

References:
    Bailey, D. H. & López de Prado, M. (2012). The Sharpe ratio efficient frontier. Journal of Risk 15(2).
    Bailey, D. H. & López de Prado, M. (2014). The deflated Sharpe ratio: correcting for selection bias,
    backtest overfitting and non-normality. Journal of Portfolio Management 40(5).
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import false_discovery_control, norm

EULER_MASCHERONI = 0.5772156649015329
TRADING_DAYS_PER_YEAR = 252
NORMAL_KURTOSIS = 3.0
_RADICAND_FLOOR = 1e-12  # only reached by moments no distribution has (kurtosis < 1 + skew²)


def probabilistic_sharpe_ratio(
    sharpe: ArrayLike, n: ArrayLike, skew: ArrayLike, kurtosis: ArrayLike, benchmark: ArrayLike = 0.0
) -> np.ndarray:
    """Probability that the true Sharpe ratio exceeds `benchmark`, given the measured one (PSR).

    ``PSR = Φ((SR − SR*) · sqrt(n − 1) / sqrt(1 − γ3 · SR + (γ4 − 1) / 4 · SR²))``: a Sharpe ratio
    measured on few returns, or on returns with negative skew and fat tails, is weaker evidence.

    Args:
        sharpe: Measured per-period Sharpe ratio SR (not annualised).
        n: Number of returns it was measured on (at least 2).
        skew: Skewness γ3 of the returns.
        kurtosis: Non-excess kurtosis γ4 of the returns (3 for normal returns; at least 1 for any data).
        benchmark: Per-period Sharpe ratio SR* to beat.

    Returns:
        Probabilities in [0, 1], broadcast over the inputs; NaN where an input is NaN.

    Raises:
        ValueError: Fewer than 2 returns, or a kurtosis below 1 (likely an excess kurtosis).

    Example:
        >>> round(float(probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0)), 4)  # Φ(0.1 · 10 / sqrt(1.005))
        0.8407
    """
    sharpe, n, skew, kurtosis, benchmark = (
        np.asarray(x, dtype=float) for x in (sharpe, n, skew, kurtosis, benchmark)
    )
    if np.any(n < 2):
        raise ValueError(f"the PSR needs at least 2 returns per Sharpe ratio, got n = {np.min(n)}")
    if np.any(kurtosis < 1 - 1e-9):
        raise ValueError(
            f"kurtosis must be the non-excess kurtosis (3 for normal returns, never below 1), got "
            f"{np.nanmin(kurtosis)}; add 3 to an excess kurtosis"
        )
    radicand = np.maximum(1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2, _RADICAND_FLOOR)
    return norm.cdf((sharpe - benchmark) * np.sqrt(n - 1) / np.sqrt(radicand))


def expected_max_sharpe(n_trials: ArrayLike, sharpe_variance: ArrayLike) -> np.ndarray:
    """Expected largest Sharpe ratio among `n_trials` skill-less strategies (the False Strategy theorem).

    ``E[max SR] ≈ sqrt(V) · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)))`` with γ the
    Euler–Mascheroni constant, when the N trials' Sharpe ratios have mean 0 and variance V. One trial
    has nothing to select from: its expected maximum is 0.

    Args:
        n_trials: Number of independent trials N (at least 1).
        sharpe_variance: Variance V of the trials' Sharpe ratios, in the units of the result squared.

    Returns:
        The expected maximum, in the units of ``sqrt(sharpe_variance)``.

    Raises:
        ValueError: Fewer than 1 trial, or a negative variance.

    Example:
        >>> round(float(expected_max_sharpe(100, 0.5)), 4)  # Bailey & López de Prado (2014), annualised
        1.7894
    """
    n_trials, sharpe_variance = np.asarray(n_trials, dtype=float), np.asarray(sharpe_variance, dtype=float)
    if np.any(n_trials < 1):
        raise ValueError(f"n_trials must be at least 1, got {np.min(n_trials)}")
    if np.any(sharpe_variance < 0):
        raise ValueError(f"sharpe_variance must be non-negative, got {np.min(sharpe_variance)}")
    with np.errstate(divide="ignore"):
        selection = (1 - EULER_MASCHERONI) * norm.ppf(1 - 1 / n_trials) + EULER_MASCHERONI * norm.ppf(
            1 - 1 / (n_trials * np.e)
        )
    return np.sqrt(sharpe_variance) * np.where(n_trials == 1, 0.0, selection)


def deflated_sharpe_ratio(
    sharpe: ArrayLike,
    n: ArrayLike,
    skew: ArrayLike,
    kurtosis: ArrayLike,
    n_trials: ArrayLike,
    sharpe_variance: ArrayLike,
) -> np.ndarray:
    """PSR against the Sharpe ratio the best of `n_trials` lucky strategies would reach (DSR).

    The more strategies (or investors) were tried to find this one, the higher the bar.

    Args:
        sharpe: Measured per-period Sharpe ratio of the selected strategy.
        n: Number of returns it was measured on.
        skew: Skewness of its returns.
        kurtosis: Non-excess kurtosis of its returns.
        n_trials: Number of independent trials the selection was made from.
        sharpe_variance: Variance of the trials' per-period Sharpe ratios.

    Returns:
        Probabilities in [0, 1].

    Example:
        >>> round(float(deflated_sharpe_ratio(2.5 / 250**0.5, 1250, -3.0, 10.0, 100, 0.5 / 250)), 3)
        0.9
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, n, skew, kurtosis, benchmark=benchmark)


def fdr_skilled(p_values: ArrayLike, alpha: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Which accounts are skilled at a false discovery rate of `alpha` (Benjamini–Hochberg).

    Among the accounts flagged, the expected share of lucky ones is at most `alpha`. A NaN p-value
    (an account that could not be tested) gets a NaN q-value, is never flagged and does not count
    among the tests.

    Args:
        p_values: One p-value per account, e.g. ``1 − PSR`` against a Sharpe ratio of 0.
        alpha: Target false discovery rate, in (0, 1).

    Returns:
        The BH-adjusted q-values and the boolean mask ``q <= alpha``.

    Raises:
        ValueError: `alpha` outside (0, 1) or a p-value outside [0, 1].

    Example:
        >>> q, skilled = fdr_skilled([0.001, 0.02, 0.03, 0.5], alpha=0.1)
        >>> q.round(4).tolist(), skilled.tolist()
        ([0.004, 0.04, 0.04, 0.5], [True, True, True, False])
    """
    p_values = np.asarray(p_values, dtype=float)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    tested = ~np.isnan(p_values)
    if np.any((p_values[tested] < 0) | (p_values[tested] > 1)):
        raise ValueError("p-values must be in [0, 1]")
    q_values = np.full(p_values.shape, np.nan)
    if tested.any():
        q_values[tested] = false_discovery_control(p_values[tested], method="bh")
    return q_values, np.asarray(q_values <= alpha)  # NaN <= alpha is False


def bh_cutoff(p_values: ArrayLike, alpha: float = 0.1) -> float:
    """The largest p-value Benjamini–Hochberg flags at `alpha` (0 when it flags none; NaNs ignored).

    Stored with a model, it flags new accounts the way BH flagged the population it was found on:
    ``p <= cutoff``, the same in batch and in the feed, whatever else is scored beside the account.

    Example:
        >>> bh_cutoff([0.001, 0.02, 0.03, 0.5], alpha=0.1)
        0.03
    """
    p_values = np.asarray(p_values, dtype=float)
    _, flagged = fdr_skilled(p_values, alpha)
    return float(p_values[flagged].max()) if flagged.any() else 0.0


def per_day_sharpe(features) -> np.ndarray:
    """The per-day 12-month Sharpe ratio (``sharpe_12m`` / sqrt(252)); NaN below 2 returns."""
    sharpe = features["sharpe_12m"].to_numpy(dtype=float) / np.sqrt(TRADING_DAYS_PER_YEAR)
    n = np.nan_to_num(features["returns_12m"].to_numpy(dtype=float), nan=0.0)
    return np.where((n >= 2) & np.isfinite(sharpe), sharpe, np.nan)


def sharpe_moments(features) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-day Sharpe, return count, skew and kurtosis of the 12-month window; missing moments normal."""
    n = np.nan_to_num(features["returns_12m"].to_numpy(dtype=float), nan=0.0)
    skew = np.nan_to_num(features["skew_12m"].to_numpy(dtype=float), nan=0.0)
    kurtosis = np.nan_to_num(features["kurtosis_12m"].to_numpy(dtype=float), nan=NORMAL_KURTOSIS)
    return per_day_sharpe(features), n, skew, kurtosis


def psr_of_12m_sharpe(features, benchmark: ArrayLike = 0.0) -> np.ndarray:
    """PSR of each account's 12-month Sharpe ratio against a per-day `benchmark` (0: "is it positive").

    ``sharpe_12m`` (annualised) is de-annualised with sqrt(252) and measured on ``returns_12m`` daily
    returns, the exact count behind it; ``kurtosis_12m`` is the non-excess kurtosis. Missing moments
    count as normal (skew 0, kurtosis 3). NaN where there is no Sharpe ratio or fewer than 2 returns.
    """
    sharpe, n, skew, kurtosis = sharpe_moments(features)
    tested = np.isfinite(sharpe)
    probability = np.full(len(features), np.nan)
    probability[tested] = probabilistic_sharpe_ratio(
        sharpe[tested], n[tested], skew[tested], kurtosis[tested], benchmark=benchmark
    )
    return probability


def dsr_of_12m_sharpe(features, n_trials: int, sharpe_variance: float) -> np.ndarray:
    """Deflated Sharpe Ratio of each account's 12-month Sharpe: PSR against the expected best of
    `n_trials` skill-less accounts whose per-day Sharpe ratios vary by `sharpe_variance`."""
    return psr_of_12m_sharpe(features, benchmark=float(expected_max_sharpe(n_trials, sharpe_variance)))
