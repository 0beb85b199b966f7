"""Heuristic rankings the model must beat. Each maps a feature frame to a score (higher = better).

Every baseline reads only columns of the feature table (``feature_repo/feature_schema.py``) and raises a
``KeyError`` naming the columns it needs when they are missing. ``psr`` needs ``skew_12m`` and
``kurtosis_12m``, which the feature job adds beside ``sharpe_12m``; the other baselines run on the
features that exist today.

Two baselines divide a gain by a risk. A plain ratio rewards risk among losers (a loss divided by a
larger risk is closer to zero), so `penalised` divides gains by the risk and multiplies losses by it:
more risk always lowers the score, and every loser stays below every winner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from components.errors import DataError
from components.scoring.luck import psr_of_12m_sharpe

TRADING_DAYS_PER_YEAR = 252
DRAWDOWN_FLOOR = 0.01  # myfxbook_like: a 1% drawdown at least, so an account that never fell is finite
VOLATILITY_FLOOR = 0.01  # myfxbook_like: a 1% annualised volatility at least (e.g. an all-cash account)
WIPED_OUT = -1 + 1e-6  # a compounded return of -100% is clipped here so that log1p stays finite

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "roi_log_days": ("roi_since_inception", "tenure_days"),
    "sharpe_12m": ("sharpe_12m",),
    "psr": ("sharpe_12m", "skew_12m", "kurtosis_12m", "returns_12m"),
    "collective2_like": ("return_12m", "tenure_days", "max_drawdown_12m"),
    "myfxbook_like": ("return_12m", "max_drawdown_12m", "volatility_12m"),
}


def require(features: pd.DataFrame, baseline: str) -> None:
    """Raise a KeyError naming the columns `baseline` needs that `features` lacks."""
    missing = [column for column in REQUIRED_COLUMNS[baseline] if column not in features.columns]
    if missing:
        raise DataError(
            f"baseline {baseline!r} needs columns missing from the feature frame: {', '.join(missing)} "
            "(the feature job writes them; see feature_repo/feature_schema.py)"
        )


def penalised(gain: pd.Series, risk: pd.Series) -> pd.Series:
    """Gain divided by a positive risk when it is a gain, multiplied by it when it is a loss.

    Example:
        >>> penalised(pd.Series([0.2, -0.2]), pd.Series([2.0, 2.0])).tolist()
        [0.1, -0.4]
    """
    return pd.Series(np.where(gain >= 0, gain / risk, gain * risk), index=gain.index).where(gain.notna())


def roi_log_days(features: pd.DataFrame) -> pd.Series:
    """The design's baseline: return since inception times log(days active)."""
    require(features, "roi_log_days")
    return features["roi_since_inception"] * np.log1p(features["tenure_days"].clip(lower=0))


def sharpe_12m(features: pd.DataFrame) -> pd.Series:
    """The raw annualised 12-month Sharpe ratio, with no allowance for how short or lucky the record is."""
    require(features, "sharpe_12m")
    return features["sharpe_12m"].astype(float)


def psr(features: pd.DataFrame) -> pd.Series:
    """Probabilistic Sharpe Ratio of the 12-month Sharpe against 0 (Bailey & López de Prado, 2012).

    The probability that the true Sharpe ratio exceeds 0 given the measured one, its sample length and
    the skewness and kurtosis of the returns (`components.scoring.luck.probabilistic_sharpe_ratio`)::

        PSR = Φ( SR · sqrt(n − 1) / sqrt(1 − γ3 · SR + (γ4 − 1) / 4 · SR²) )

    with SR the per-day Sharpe (``sharpe_12m / sqrt(252)``), n the number of daily returns in the window
    (``returns_12m``), γ3 the skewness ``skew_12m`` and γ4 the non-excess kurtosis
    ``kurtosis_12m``. Missing moments (too few returns to estimate them) are taken as normal (γ3 = 0,
    γ4 = 3); fewer than 2 returns give 0.5 (no evidence either way); a missing Sharpe stays missing.

    Raises:
        DataError: A column missing (``skew_12m`` and ``kurtosis_12m`` come from the feature job).
        ValueError: A kurtosis below 1, i.e. an excess kurtosis where the plain one was expected.

    Example:
        >>> frame = pd.DataFrame({"sharpe_12m": [0.1 * 252 ** 0.5], "skew_12m": [0.0],
        ...                       "kurtosis_12m": [3.0], "returns_12m": [101]})
        >>> round(float(psr(frame).iloc[0]), 4)  # Φ(0.1 · 10 / sqrt(1.005))
        0.8407
    """
    require(features, "psr")
    probability = pd.Series(psr_of_12m_sharpe(features), index=features.index)
    # Fewer than 2 returns is no evidence either way: 0.5, not missing, so such accounts still rank.
    return probability.where(probability.notna() | features["sharpe_12m"].isna(), 0.5)


def collective2_like(features: pd.DataFrame) -> pd.Series:
    """A Collective2-style score: log growth, trusted more with age, cut by the drawdown it took.

    ``log1p(return_12m) · log1p(tenure_days)``, divided by ``1 + max_drawdown_12m`` when positive and
    multiplied by it when negative (see `penalised`). Collective2's published "C2 Score" weighs a
    strategy's return, age and maximum drawdown; we keep those three. Return and drawdown are both
    the trailing 12 months, so the penalty applies to the drawdown taken while earning that return;
    log growth rather than the raw return keeps a 10x meme win from dwarfing everything; log age
    rewards a long record with diminishing returns; ``1 + drawdown`` is >= 1, so the penalty never
    divides by zero. A -100% return is clipped to just above -1.

    Example:
        >>> frame = pd.DataFrame({"return_12m": [np.e - 1], "tenure_days": [np.e - 1],
        ...                       "max_drawdown_12m": [1.0]})
        >>> float(collective2_like(frame).iloc[0])
        0.5
    """
    require(features, "collective2_like")
    growth = np.log1p(features["return_12m"].astype(float).clip(lower=WIPED_OUT))
    age = np.log1p(features["tenure_days"].astype(float).clip(lower=0))
    return penalised(growth * age, 1 + features["max_drawdown_12m"].astype(float).clip(lower=0))


def myfxbook_like(features: pd.DataFrame) -> pd.Series:
    """A Myfxbook-style gain-to-risk ratio: ``return_12m / (max_drawdown_12m · volatility_12m)``.

    Drawdown and volatility are floored at `DRAWDOWN_FLOOR` and `VOLATILITY_FLOOR` (1% each), so an
    account that never fell or holds only cash gets a large but finite score; losses are multiplied by
    the risk instead of divided (see `penalised`).

    Example:
        >>> frame = pd.DataFrame({"return_12m": [0.2, 0.2], "max_drawdown_12m": [0.1, 0.0],
        ...                       "volatility_12m": [0.2, 0.0]})
        >>> [round(x, 6) for x in myfxbook_like(frame)]
        [10.0, 2000.0]
    """
    require(features, "myfxbook_like")
    drawdown = features["max_drawdown_12m"].astype(float).clip(lower=DRAWDOWN_FLOOR)
    volatility = features["volatility_12m"].astype(float).clip(lower=VOLATILITY_FLOOR)
    return penalised(features["return_12m"].astype(float), drawdown * volatility)


BASELINES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "roi_log_days": roi_log_days,
    "sharpe_12m": sharpe_12m,
    "psr": psr,
    "collective2_like": collective2_like,
    "myfxbook_like": myfxbook_like,
}


def baseline_scores(features: pd.DataFrame, names: Iterable[str] | None = None) -> pd.DataFrame:
    """One score column per baseline (all of `BASELINES` by default), aligned with `features`' index.

    Raises:
        DataError: An unknown baseline name, or a baseline's columns missing from `features`.
    """
    names = list(BASELINES if names is None else names)
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise DataError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}")
    return pd.DataFrame({name: BASELINES[name](features) for name in names}, index=features.index)
