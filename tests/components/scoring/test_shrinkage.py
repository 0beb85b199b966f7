"""Empirical-Bayes shrinkage and the standard error of a Sharpe ratio, on literal inputs."""

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from components.scoring.shrinkage import EmpiricalBayesShrinkage, score_standard_error


def test_standard_error_of_a_sharpe_ratio_by_hand():
    # sqrt((1 + SR_d²/2) / n) · sqrt(252): SR_d = 0.1 over 252 days -> sqrt(1.005)
    se = score_standard_error([252, 63, 252, 0], [0.0, 0.0, 0.1 * math.sqrt(252), 1.0])
    np.testing.assert_allclose(se, [1.0, 2.0, math.sqrt(1.005), np.inf])


def test_short_or_noisy_records_have_larger_errors():
    short, long = score_standard_error([63, 504], [1.0, 1.0])
    assert short > long
    calm, wild = score_standard_error([252, 252], [0.5, 5.0])
    assert wild > calm


def test_negative_track_record_is_an_error():
    with pytest.raises(ValueError, match="track_record_days must be non-negative"):
        score_standard_error([-1], [0.5])


def test_fit_learns_the_hand_computed_prior():
    # mean 3; sample variance (4 + 1 + 0 + 9) / 3 = 14/3; mean se² (1 + 1 + 0.25 + 0.25) / 4 = 0.625
    shrink = EmpiricalBayesShrinkage().fit([1.0, 2.0, 3.0, 6.0], [1.0, 1.0, 0.5, 0.5])
    assert shrink.prior_mean_ == pytest.approx(3.0)
    assert shrink.prior_variance_ == pytest.approx(14 / 3 - 0.625)


def test_fit_leaves_out_scores_without_evidence():
    shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 100.0], [0.0, 0.0, np.inf])
    assert (shrink.prior_mean_, shrink.prior_variance_) == (2.0, 2.0)


def test_prior_variance_is_floored_when_noise_explains_the_spread():
    shrink = EmpiricalBayesShrinkage(min_prior_variance=0.01).fit([1.0, 2.0, 3.0], [3.0, 3.0, 3.0])
    assert shrink.prior_variance_ == 0.01


def test_a_short_track_record_shrinks_more_than_a_long_one_with_the_same_score():
    shrink = EmpiricalBayesShrinkage().fit([-1.0, 0.0, 1.0, 2.0, 3.0], [0.5] * 5)  # prior N(1, 2.25)
    se = score_standard_error([63, 756], [2.0, 2.0])
    short, long = shrink.transform([3.0, 3.0], se)
    assert shrink.prior_mean_ < short < long < 3.0


def test_transform_is_the_posterior_mean():
    shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 5.0], [1.0, 1.0, 1.0])  # prior N(3, 3)
    np.testing.assert_allclose(shrink.transform([5.0, 1.0, 7.0], [1.0, 0.0, np.inf]), [4.5, 1.0, 3.0])


def test_weights_fall_as_standard_errors_grow():
    shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 5.0], [1.0, 1.0, 1.0])  # prior variance 3
    weights = shrink.weights([0.0, 0.5, 1.0, 2.0, 10.0, np.inf])
    assert weights[0] == 1.0 and weights[-1] == 0.0
    assert weights[2] == pytest.approx(0.75)
    assert np.all(np.diff(weights) < 0)


def test_it_is_a_scikit_learn_estimator():
    shrink = EmpiricalBayesShrinkage(min_prior_variance=0.5)
    assert shrink.get_params() == {"min_prior_variance": 0.5}
    assert not hasattr(clone(shrink), "prior_mean_")


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="same length"):
        EmpiricalBayesShrinkage().fit([1.0, 2.0, 3.0], [1.0, 1.0])
    shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 5.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        shrink.transform([1.0], [1.0, 1.0])


def test_negative_standard_errors_are_an_error():
    with pytest.raises(ValueError, match="standard errors must be non-negative"):
        EmpiricalBayesShrinkage().fit([1.0, 2.0], [1.0, -1.0])


def test_nan_standard_errors_are_an_error():
    shrink = EmpiricalBayesShrinkage().fit([1.0, 3.0, 5.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not NaN"):
        shrink.weights([np.nan])


def test_nan_scores_are_an_error():
    with pytest.raises(ValueError, match="scores must not be NaN"):
        EmpiricalBayesShrinkage().fit([1.0, np.nan], [1.0, 1.0])


def test_fit_needs_two_scores_with_evidence():
    with pytest.raises(ValueError, match="at least 2 scores with finite standard errors, got 1"):
        EmpiricalBayesShrinkage().fit([1.0, 2.0], [1.0, np.inf])


def test_a_non_positive_floor_is_an_error():
    with pytest.raises(ValueError, match="min_prior_variance must be positive"):
        EmpiricalBayesShrinkage(min_prior_variance=0.0).fit([1.0, 2.0], [1.0, 1.0])


def test_transform_before_fit_is_an_error():
    with pytest.raises(NotFittedError):
        EmpiricalBayesShrinkage().transform([1.0], [1.0])
