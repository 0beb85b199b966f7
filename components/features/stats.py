"""Statistics of daily returns as Spark column expressions, from sums and small sorted arrays.

The feature job summarises daily rows once per (account, period) (`components.features.returns`); trailing
windows then add those summaries up at the monthly grain, and these functions turn the window sums
into statistics. All are native column expressions (no Python UDFs); ANSI mode is on, so divisions
go through ``try_divide`` and an undefined statistic is null.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from pyspark.sql import Column
from pyspark.sql import functions as F

TRADING_DAYS_PER_YEAR = 252
ANNUALISE = math.sqrt(TRADING_DAYS_PER_YEAR)
# VaR and CVaR at 95%: the worst 5% of n returns are n / 20 of them, counted exactly (n / 20 is an
# exact double, where 0.05 * n is not: (1 - 0.95) * 20 is 1.0000000000000009).
TAIL_DIVISOR = 20
_GAUSS = NormalDist()
GAUSSIAN_VAR_Z = _GAUSS.inv_cdf(1 - 1 / TAIL_DIVISOR)  # 1.6449: the 95% quantile of a standard normal
GAUSSIAN_CVAR_Z = _GAUSS.pdf(GAUSSIAN_VAR_Z) * TAIL_DIVISOR  # 2.0627: mean of its worst 5%, in sds
NORMAL_KURTOSIS = 3.0
PSR_RADICAND_FLOOR = 1e-12  # as in components.scoring.luck: only moments no distribution has reach it

# Abramowitz & Stegun 26.2.17: 1 - Phi(x) = phi(x) * poly(t), t = 1 / (1 + p x), x >= 0, |error| < 7.5e-8.
_AS_P = 0.2316419
_AS_B = (0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429)


def mean(n: Column, total: Column) -> Column:
    """Mean return; null when there are none."""
    return F.try_divide(total, n)


def sample_variance(n: Column, total: Column, total_sq: Column) -> Column:
    """Sample variance (n - 1) from the count, sum and sum of squares; null for fewer than two values."""
    variance = F.try_divide(total_sq - n * F.pow(mean(n, total), 2), n - 1)
    return F.when(variance < 0, F.lit(0.0)).otherwise(variance)  # rounding below an exact zero


def sample_sd(n: Column, total: Column, total_sq: Column) -> Column:
    """Sample standard deviation (n - 1) from sums; null for fewer than two returns."""
    return F.sqrt(sample_variance(n, total, total_sq))


def annualised_sharpe(n: Column, total: Column, total_sq: Column) -> Column:
    """Mean over sample standard deviation, times sqrt(252); null for no spread or < 2 returns."""
    return F.try_divide(mean(n, total), sample_sd(n, total, total_sq)) * ANNUALISE


def annualised_sortino(n: Column, total: Column, down_sq: Column) -> Column:
    """Mean over downside deviation (root mean squared loss, target 0), annualised."""
    return F.try_divide(mean(n, total), F.sqrt(F.try_divide(down_sq, n))) * ANNUALISE


def t_statistic(n: Column, total: Column, total_sq: Column, min_n: int) -> Column:
    """Mean over its standard error (sample sd / sqrt(n)); null below `min_n` values or without spread."""
    return F.when(n >= min_n, F.try_divide(mean(n, total) * F.sqrt(n), sample_sd(n, total, total_sq)))


def skewness_and_kurtosis(
    n: Column, total: Column, total_sq: Column, total_cube: Column, total_fourth: Column
) -> tuple[Column, Column]:
    """Population skewness and (non-excess) kurtosis from power sums; null for < 3 returns or no spread."""
    mu = mean(n, total)
    e2, e3, e4 = (F.try_divide(power_sum, n) for power_sum in (total_sq, total_cube, total_fourth))
    m2 = e2 - mu * mu
    m3 = e3 - 3 * mu * e2 + 2 * mu * mu * mu
    m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu * mu * mu * mu
    defined = (n >= 3) & (m2 > 0)
    return F.when(defined, m3 / F.pow(m2, 1.5)), F.when(defined, m4 / (m2 * m2))


def market_regression(
    n: Column, sum_m: Column, sum_r: Column, sum_m2: Column, sum_r2: Column, sum_rm: Column
) -> dict[str, Column]:
    """OLS of returns r on the index's returns m: beta, annualised alpha, alpha's t-statistic, correlation.

    From sums over paired returns; null for fewer than 3 pairs or an index that did not move. The
    t-statistic uses the residual variance with n - 2 degrees of freedom; the correlation is Pearson's.
    """
    mean_m, mean_r = mean(n, sum_m), mean(n, sum_r)
    var_m = sum_m2 - n * mean_m * mean_m  # centred sums of squares and products
    cov = sum_rm - n * mean_m * mean_r
    var_r = sum_r2 - n * mean_r * mean_r
    beta = F.try_divide(cov, var_m)
    alpha = mean_r - beta * mean_m
    residual = F.try_divide(var_r - beta * cov, n - 2)
    alpha_se = F.sqrt(
        F.when(residual < 0, F.lit(0.0)).otherwise(residual) * (1 / n + mean_m * mean_m / var_m)
    )
    spread = F.when((var_m > 0) & (var_r > 0), F.sqrt(var_m * var_r))
    defined = n >= 3
    return {
        "beta": F.when(defined, beta),
        "alpha": F.when(defined, alpha * TRADING_DAYS_PER_YEAR),
        "alpha_t": F.when(defined, F.try_divide(alpha, alpha_se)),
        "corr": F.when(defined, F.try_divide(cov, spread)),
    }


def compounded(sum_log: Column) -> Column:
    """Compounded return from the sum of log-growths: prod(1 + r) - 1."""
    return F.exp(sum_log) - 1


def normal_cdf(x: Column) -> Column:
    """Standard normal CDF, by Abramowitz & Stegun's formula 26.2.17 (absolute error below 7.5e-8).

    Spark has no normal CDF; this polynomial in ``t = 1 / (1 + 0.2316419 |x|)`` times the normal
    density gives the upper tail of ``|x|``, and symmetry gives the rest. Null stays null.
    """
    z = F.abs(x)
    t = 1 / (1 + _AS_P * z)
    poly = F.lit(_AS_B[-1])
    for b in reversed(_AS_B[:-1]):
        poly = b + t * poly
    upper_tail = F.exp(-z * z / 2) / math.sqrt(2 * math.pi) * t * poly
    return F.when(x >= 0, 1 - upper_tail).otherwise(upper_tail)


def probabilistic_sharpe(sharpe_per_day: Column, n: Column, skew: Column, kurtosis: Column) -> Column:
    """Probability that the true Sharpe ratio exceeds 0 (PSR, Bailey & López de Prado, 2012).

    ``PSR = Phi(SR sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))`` with SR the per-day
    Sharpe ratio; missing moments count as normal (skew 0, kurtosis 3), as in
    `components.scoring.luck.psr_of_12m_sharpe`. Null without a Sharpe ratio or with fewer than 2 returns.
    """
    sr = sharpe_per_day
    gamma3, gamma4 = F.coalesce(skew, F.lit(0.0)), F.coalesce(kurtosis, F.lit(NORMAL_KURTOSIS))
    radicand = F.greatest(1 - gamma3 * sr + (gamma4 - 1) / 4 * sr * sr, F.lit(PSR_RADICAND_FLOOR))
    return F.when(n >= 2, normal_cdf(sr * F.sqrt(n - 1) / F.sqrt(radicand)))


def historical_var_cvar(tail: Column, n: Column) -> tuple[Column, Column]:
    """Historical 95% VaR and CVaR of n daily returns, as positive losses (skfolio's definition).

    With k = n / 20 and i = ceil(k) (1-based), VaR is minus the i-th smallest return and CVaR minus
    the mean of the worst k returns, the i-th counted with weight k - (i - 1). `tail` is an ascending
    array holding at least the i smallest returns; a shorter one gives null.
    """
    k = n / TAIL_DIVISOR
    i = F.ceil(k)
    quantile = F.try_element_at(tail, i.cast("int"))
    worse = F.aggregate(
        F.slice(tail, 1, F.greatest(i - 1, F.lit(0)).cast("int")), F.lit(0.0), lambda total, r: total + r
    )
    defined = (n >= 1) & (F.size(tail) >= i)
    return (
        F.when(defined, -quantile),
        F.when(defined, -(worse + quantile * (k - (i - 1))) / k),
    )


def gaussian_var_cvar(n: Column, total: Column, total_sq: Column) -> tuple[Column, Column]:
    """Parametric (Gaussian) 95% VaR and CVaR of daily returns from their mean and sample sd, as losses.

    ``VaR = 1.645 sd - mean`` and ``CVaR = phi(1.645) / 0.05 sd - mean = 2.063 sd - mean``.
    """
    mu, sd = mean(n, total), sample_sd(n, total, total_sq)
    return GAUSSIAN_VAR_Z * sd - mu, GAUSSIAN_CVAR_Z * sd - mu
