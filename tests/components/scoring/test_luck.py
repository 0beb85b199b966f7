"""PSR, the deflated Sharpe ratio and Benjamini–Hochberg, against published values and hand computations."""

import math

import numpy as np
import pytest
from scipy.stats import kurtosis, skew

from components.scoring.luck import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    fdr_skilled,
    probabilistic_sharpe_ratio,
)

RETURNS = np.array([0.012, -0.004, 0.007, 0.003, -0.011, 0.015, 0.002, -0.006, 0.009, 0.004, -0.002, 0.008])


def normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_psr_of_a_return_series_follows_the_paper_s_formula():
    sharpe = RETURNS.mean() / RETURNS.std(ddof=1)
    g3, g4 = skew(RETURNS), kurtosis(RETURNS, fisher=False)
    n = len(RETURNS)
    by_hand = normal_cdf(sharpe * math.sqrt(n - 1) / math.sqrt(1 - g3 * sharpe + (g4 - 1) / 4 * sharpe**2))
    assert probabilistic_sharpe_ratio(sharpe, n, g3, g4) == pytest.approx(by_hand, abs=1e-12)
    assert 0.5 < by_hand < 1  # a positive Sharpe ratio: more likely skill than not


def test_psr_of_normal_returns_is_the_literal_value():
    # Φ(0.1 · sqrt(100) / sqrt(1 + 2/4 · 0.01)) = Φ(0.997509) = 0.840741
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(0.840741, abs=1e-6)


def test_psr_at_the_benchmark_is_one_half():
    assert probabilistic_sharpe_ratio(0.08, 250, -1.0, 9.0, benchmark=0.08) == pytest.approx(0.5)


def test_negative_skew_and_fat_tails_weaken_the_evidence():
    normal = probabilistic_sharpe_ratio(0.1, 100, 0.0, 3.0)
    assert probabilistic_sharpe_ratio(0.1, 100, -2.0, 3.0) < normal
    assert probabilistic_sharpe_ratio(0.1, 100, 0.0, 12.0) < normal


def test_a_longer_record_strengthens_the_evidence():
    assert np.all(np.diff(probabilistic_sharpe_ratio(0.05, [20, 60, 250, 1000], 0.0, 3.0)) > 0)


def test_psr_is_vectorised_and_keeps_missing_values_missing():
    psr = probabilistic_sharpe_ratio([0.1, np.nan, -0.1], [101, 101, 101], [0.0, 0.0, 0.0], [3.0, 3.0, 3.0])
    assert psr.shape == (3,)
    assert psr[0] == pytest.approx(1 - psr[2])
    assert np.isnan(psr[1])


def test_psr_needs_two_returns():
    with pytest.raises(ValueError, match="at least 2 returns"):
        probabilistic_sharpe_ratio([0.1, 0.1], [1, 50], 0.0, 3.0)


def test_psr_rejects_an_excess_kurtosis_below_one():
    with pytest.raises(ValueError, match="non-excess kurtosis .*add 3"):
        probabilistic_sharpe_ratio(0.1, 50, 0.0, -0.5)


def test_expected_max_sharpe_matches_the_deflated_sharpe_paper():
    # Bailey & López de Prado (2014): 100 trials, variance 1/2 annualised, 250 days a year -> SR0 = 0.1132
    assert expected_max_sharpe(100, 0.5 / 250) == pytest.approx(0.1132, abs=5e-5)


def test_one_trial_has_nothing_to_select_and_more_trials_raise_the_bar():
    bars = expected_max_sharpe([1, 2, 10, 100, 1000], 1.0)
    assert bars[0] == 0.0
    assert np.all(np.diff(bars) > 0)


def test_expected_max_sharpe_errors():
    with pytest.raises(ValueError, match="n_trials must be at least 1"):
        expected_max_sharpe(0, 1.0)
    with pytest.raises(ValueError, match="sharpe_variance must be non-negative"):
        expected_max_sharpe(10, -1.0)


def test_deflated_sharpe_ratio_matches_the_paper_s_example():
    # SR 2.5 annualised over 1250 days, skew -3, kurtosis 10, best of 100 trials: DSR = 0.9004
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def test_deflated_sharpe_ratio_falls_as_trials_grow():
    dsr = deflated_sharpe_ratio(0.1, 500, 0.0, 3.0, [1, 10, 100, 1000], 0.002)
    assert dsr[0] == pytest.approx(probabilistic_sharpe_ratio(0.1, 500, 0.0, 3.0))
    assert np.all(np.diff(dsr) < 0)


def test_benjamini_hochberg_by_hand():
    # sorted p: 0.005, 0.01, 0.03, 0.04, 0.2 -> p·5/rank: 0.025, 0.025, 0.05, 0.05, 0.2 (already monotone)
    q, skilled = fdr_skilled([0.01, 0.04, 0.03, 0.005, 0.2], alpha=0.1)
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.2])
    assert skilled.tolist() == [True, True, True, True, False]
    assert fdr_skilled([0.01, 0.04, 0.03, 0.005, 0.2], alpha=0.04)[1].tolist() == [
        True,
        False,
        False,
        True,
        False,
    ]


def test_benjamini_hochberg_takes_the_running_minimum_from_the_top():
    # sorted p: 0.01, 0.03, 0.035 -> p·3/rank: 0.03, 0.045, 0.035 -> q: 0.03, 0.035, 0.035
    q, _ = fdr_skilled([0.035, 0.01, 0.03])
    np.testing.assert_allclose(q, [0.035, 0.03, 0.035])


def test_untested_accounts_are_neither_counted_nor_flagged():
    q, skilled = fdr_skilled([0.01, np.nan, 0.04], alpha=0.05)  # m = 2: q = 0.02, 0.04
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04])
    assert skilled.tolist() == [True, False, True]


def test_p_values_outside_zero_one_are_rejected():
    with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\]"):
        fdr_skilled([0.5, 1.2])


def test_alpha_outside_zero_one_is_rejected():
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        fdr_skilled([0.5], alpha=1.0)
