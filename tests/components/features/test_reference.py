"""The feature job's per-account risk and return statistics against reference libraries.

skfolio's measures and scipy are run on the same daily return series the job sees (recomputed with
pandas from the written snapshots); their conventions are aligned by documented transformations:

- Sharpe ratio: skfolio's ``mean / standard_deviation`` (sample sd, n - 1) is per day: times sqrt(252).
- Sortino ratio: the job's downside deviation is ``semi_deviation`` with target 0 and ``biased=True``
  (mean of squared losses over all n returns).
- Max drawdown: the job counts the window's starting wealth as a peak; skfolio's drawdowns start at
  the first day's wealth, so the series is given a leading zero return (wealth 1 at the start).
- VaR and CVaR: both are positive losses. skfolio computes the tail size as ``(1 - 0.95) * n`` in
  floating point, which lands just above an integer when n is a multiple of 20 (``(1 - 0.95) * 20``
  is 1.0000000000000009) and then takes one return more; the job counts n / 20 exactly. The two are
  compared on windows whose n is not a multiple of 20, and the multiple-of-20 case is checked
  against the definition.
- Beta: skfolio has no beta measure; beta = correlation x sd(r) / sd(m), with skfolio's correlation
  and sample sds.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import skfolio.measures as sk
from pyspark.sql import functions as F
from scipy import stats

from components.features.stats import normal_cdf
from components.scoring.luck import probabilistic_sharpe_ratio
from tests.feature_world import (
    FEB,
    JAN,
    MAR,
    expected_index_returns,
    expected_returns,
    period_of,
    trailing,
    window_start,
)

pytestmark = pytest.mark.spark

COMPARED = (MAR, date(2021, 6, 30), date(2021, 12, 31), date(2022, 1, 31), date(2022, 4, 14))
ANNUAL = math.sqrt(252)


def skfolio_drawdown(r: np.ndarray) -> float:
    return sk.max_drawdown(sk.get_drawdowns(np.concatenate([[0.0], r]), compounded=True))


def test_per_account_metrics_match_skfolio_on_the_same_returns(built):
    _, features, _ = built
    returns, index = expected_returns("A"), expected_index_returns("A")
    for as_of in COMPARED:
        row = features.loc[("A", as_of)]
        for months in (3, 6, 12):
            r = trailing(returns, as_of, months)
            assert row[f"sharpe_{months}m"] == pytest.approx(sk.mean(r) / sk.standard_deviation(r) * ANNUAL)
            downside = sk.semi_deviation(r, min_acceptable_return=0.0, biased=True)
            assert row[f"sortino_{months}m"] == pytest.approx(sk.mean(r) / downside * ANNUAL)
        r, m = trailing(returns, as_of), trailing(index, as_of)
        assert len(r) % 20 != 0  # where skfolio's floating-point tail size is exact (module docstring)
        assert row["volatility_12m"] == pytest.approx(sk.standard_deviation(r) * ANNUAL)
        assert row["max_drawdown_12m"] == pytest.approx(skfolio_drawdown(r))
        assert row["var_95_hist_12m"] == pytest.approx(sk.value_at_risk(r, beta=0.95))
        assert row["cvar_95_hist_12m"] == pytest.approx(sk.cvar(r, beta=0.95))
        assert row["skew_12m"] == pytest.approx(sk.skew(r))
        assert row["kurtosis_12m"] == pytest.approx(sk.kurtosis(r))
        corr = sk.correlation(np.column_stack([r, m]))[0, 1]
        assert row["corr_spx_12m"] == pytest.approx(corr)
        assert row["beta_12m"] == pytest.approx(corr * sk.standard_deviation(r) / sk.standard_deviation(m))


def test_historical_var_counts_the_worst_twentieth_exactly_at_a_multiple_of_20(built):
    _, features, _ = built
    as_of = date(2022, 2, 28)
    worst = np.sort(trailing(expected_returns("A"), as_of))
    assert len(worst) == 260  # k = 13 exactly: the 13th worst return, and the mean of the 13 worst
    assert features.loc[("A", as_of), "var_95_hist_12m"] == pytest.approx(-worst[12])
    assert features.loc[("A", as_of), "cvar_95_hist_12m"] == pytest.approx(-worst[:13].mean())


def test_historical_var_of_a_short_record_interpolates_the_tail_like_skfolio(built):
    _, features, _ = built
    r = trailing(expected_returns("A"), JAN)
    assert len(r) == 19  # k = 0.95: the worst return alone
    assert features.loc[("A", JAN), "var_95_hist_12m"] == pytest.approx(sk.value_at_risk(r, beta=0.95))
    assert features.loc[("A", JAN), "cvar_95_hist_12m"] == pytest.approx(sk.cvar(r, beta=0.95))


def test_gaussian_var_and_cvar_follow_the_normal_quantile(built):
    _, features, _ = built
    z = stats.norm.ppf(0.05)
    for as_of in (FEB, date(2021, 12, 31)):
        r = trailing(expected_returns("A"), as_of)
        mu, sd = r.mean(), r.std(ddof=1)
        row = features.loc[("A", as_of)]
        assert row["var_95_param_12m"] == pytest.approx(-(mu + z * sd))
        assert row["cvar_95_param_12m"] == pytest.approx(sd * stats.norm.pdf(z) / 0.05 - mu)


def test_monthly_return_variance_uses_the_compounded_return_of_each_period(built):
    _, features, _ = built
    returns = expected_returns("A")
    by_period = (1 + returns).groupby([period_of(d) for d in returns.index]).prod() - 1
    for as_of in (MAR, date(2021, 12, 31), date(2022, 3, 31)):
        start = window_start(as_of) or date.min
        months = by_period[(by_period.index > start) & (by_period.index <= as_of)]
        assert features.loc[("A", as_of), "monthly_return_var_12m"] == pytest.approx(months.var(ddof=1))
    assert np.isnan(features.loc[("A", JAN), "monthly_return_var_12m"])  # one month: no variance


def test_the_normal_cdf_column_is_within_1e_7_of_scipy(spark):
    x = np.concatenate([np.linspace(-9.0, 9.0, 3601), [0.0, -1e-12, 1e-12]])
    frame = spark.createDataFrame(pd.DataFrame({"x": x}))
    got = frame.select("x", normal_cdf(frame["x"]).alias("p")).toPandas()
    assert np.max(np.abs(got["p"] - stats.norm.cdf(got["x"]))) < 1e-7
    assert frame.select(normal_cdf(F.lit(None).cast("double"))).first()[0] is None


def test_psr_matches_the_scoring_path_on_every_row(built):
    _, features, _ = built
    rows = features.dropna(subset=["sharpe_12m", "skew_12m", "kurtosis_12m"])
    want = probabilistic_sharpe_ratio(
        rows["sharpe_12m"] / ANNUAL, rows["returns_12m"], rows["skew_12m"], rows["kurtosis_12m"]
    )
    assert len(rows) > 40
    np.testing.assert_allclose(rows["psr_12m"], want, atol=1e-7)
    assert features["psr_12m"].isna().equals(features["sharpe_12m"].isna())
