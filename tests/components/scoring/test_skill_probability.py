"""The mixture behind the probability of skill: π0, the posterior, its calibration, its storage."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from components.scoring.skill_probability import (
    EDGE_GRID,
    SkillPrior,
    empirical_null_scale,
    fit_skill_prior,
    no_skill_share,
    p_values,
)


def mixture(n: int, no_skill: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t-stats of `n` accounts: a share `no_skill` with edge 0, two thirds of the rest positive, a third
    negative, edges of 0.5 to 2 and records of 1 to 6 years. Returns (t, days, truly skilled)."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, n, p=(no_skill, (1 - no_skill) * 2 / 3, (1 - no_skill) / 3))
    edge = rng.uniform(0.5, 2.0, n) * np.select([kind == 1, kind == 2], [1.0, -1.0], 0.0)
    days = rng.integers(252, 6 * 252, n).astype(float)
    return rng.normal(edge * np.sqrt(days / 252), 1.0), days, kind == 1


def expected_calibration_error(skilled: np.ndarray, probability: np.ndarray) -> float:
    observed, predicted = calibration_curve(skilled, probability, n_bins=10, strategy="quantile")
    return float(np.mean(np.abs(observed - predicted)))


def test_the_fitted_no_skill_share_is_close_to_the_mixtures_and_errs_toward_no_skill():
    t, days, skilled = mixture(6000, 0.7, seed=1)
    prior = fit_skill_prior(t, days, null_scale=1.0)
    assert 0.7 - 0.02 <= prior.no_skill_share <= 0.7 + 0.1  # Storey's estimate errs high
    assert prior.skilled_share == pytest.approx(skilled.mean(), abs=0.08)


def test_the_posterior_is_calibrated_on_a_known_mixture():
    t, days, skilled = mixture(6000, 0.7, seed=2)
    probability = fit_skill_prior(t, days, null_scale=1.0).probability_of_skill(t, days)
    assert expected_calibration_error(skilled, probability) < 0.05


def test_pure_noise_is_no_skill_and_nobody_is_likely_skilled():
    t, days, _ = mixture(5000, 1.0, seed=3)
    prior = fit_skill_prior(t, days, null_scale=1.0)
    assert prior.no_skill_share == pytest.approx(1.0, abs=0.02)
    assert prior.probability_of_skill(t, days).max() < 0.5  # even the luckiest of 5,000


def test_a_null_wider_than_theory_is_measured_and_not_read_as_skill():
    rng = np.random.default_rng(5)
    t, days = rng.normal(0.0, 1.4, 3000), rng.integers(252, 1500, 3000).astype(float)
    prior = fit_skill_prior(t, days)
    assert prior.null_scale == pytest.approx(1.4, abs=0.1)
    assert prior.no_skill_share > 0.97
    assert prior.p_values([3.0])[0] == pytest.approx(p_values([3.0 / prior.null_scale])[0])
    assert np.sort(prior.probability_of_skill(t, days))[-10:].mean() < 0.5  # the luckiest ten
    theoretical = fit_skill_prior(t, days, null_scale=1.0)
    assert theoretical.no_skill_share < 0.9  # what the theoretical null would have concluded


def test_the_empirical_null_is_never_narrower_than_theory():
    assert empirical_null_scale(np.random.default_rng(6).normal(0.0, 0.5, 1000)) == 1.0


def test_storey_estimate_counts_large_p_values():
    # Two-sided p-values of t = 0 are 1 (above 0.5), of t = 5 about 6e-7: half the accounts look null.
    assert no_skill_share([0.0, 0.0, 5.0, 5.0]) == 1.0  # 2 / (4 · 0.5), capped at 1
    assert no_skill_share([0.0, 5.0, 5.0, 5.0]) == 0.5


def test_storey_rejects_a_lambda_outside_0_1():
    with pytest.raises(ValueError, match="lam must be in"):
        no_skill_share([0.0], lam=1.0)


def test_a_short_record_stays_near_the_prior_share_and_a_long_one_follows_its_t_stat():
    prior = SkillPrior(edges=(0.0, 1.0), weights=(0.8, 0.2))
    week, decade_strong, decade_flat = prior.probability_of_skill([2.0, 4.0, 0.0], [5.0, 2520.0, 2520.0])
    assert week == pytest.approx(0.2, abs=0.05)
    assert decade_strong > 0.99 and decade_flat < 0.01


def test_no_t_stat_is_nan_and_no_record_is_the_prior_share():
    prior = SkillPrior(edges=(-1.0, 0.0, 1.0), weights=(0.1, 0.6, 0.3))
    probability = prior.probability_of_skill([np.nan, 1.5], [500.0, 0.0])
    assert np.isnan(probability[0])
    assert probability[1] == pytest.approx(0.3)


def test_a_t_stat_beyond_every_edge_reads_by_its_sign():
    prior = SkillPrior(edges=(-1.0, 0.0, 1.0), weights=(0.1, 0.6, 0.3))
    assert prior.probability_of_skill([80.0, -80.0], [252.0, 252.0]).tolist() == [1.0, 0.0]


def test_p_values_are_one_sided():
    assert p_values([-1.0, 1.0]).round(4).tolist() == [0.8413, 0.1587]


def test_the_prior_reads_back_from_its_json():
    t, days, _ = mixture(2000, 0.7, seed=4)
    prior = fit_skill_prior(t, days, null_scale=1.0)
    assert SkillPrior.from_json(prior.to_json()) == prior
    assert len(prior.to_json()) < 2000  # one model-version tag


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"edges": [0.0]}', '{"edges": ["a"], "weights": [1]}'])
def test_a_malformed_json_prior_is_a_value_error(text):
    with pytest.raises(ValueError, match="skill prior"):
        SkillPrior.from_json(text)


def test_a_prior_with_a_non_positive_null_scale_is_refused():
    with pytest.raises(ValueError, match="null scale"):
        SkillPrior(edges=(0.0,), weights=(1.0,), null_scale=0.0)


def test_a_prior_whose_weights_do_not_sum_to_one_is_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        SkillPrior(edges=(0.0, 1.0), weights=(0.5, 0.1))


def test_fitting_needs_zero_among_the_edges():
    with pytest.raises(ValueError, match="include 0"):
        fit_skill_prior([1.0], [252.0], edges=(-1.0, 1.0))


def test_fitting_needs_an_account_with_evidence():
    with pytest.raises(ValueError, match="at least one account"):
        fit_skill_prior([np.nan, 1.0], [252.0, 0.0])


def test_the_default_grid_holds_zero_exactly():
    assert 0.0 in EDGE_GRID and tuple(sorted(EDGE_GRID)) == EDGE_GRID
