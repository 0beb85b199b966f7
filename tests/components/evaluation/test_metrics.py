"""NDCG's gains: the percentile rank for the label, the positive part for latent skill."""

from __future__ import annotations

import numpy as np
import pytest

from components.evaluation.metrics import ndcg_at_k, positive_part, random_ndcg_at_k


def skill_world(seed: int = 3, n: int = 2000) -> np.ndarray:
    """70% no skill, 20% skilled, 10% negative: the simulator's default mix."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, n, p=(0.7, 0.2, 0.1))
    return np.select([kind == 1, kind == 2], [rng.uniform(0.02, 0.1, n), -rng.uniform(0.02, 0.1, n)], 0.0)


def test_a_random_order_scores_the_random_level_against_skill_not_one_half():
    skill = skill_world()
    rng = np.random.default_rng(0)
    random_orders = [ndcg_at_k(skill, rng.random(len(skill)), 100, positive_part) for _ in range(200)]
    expected = random_ndcg_at_k(skill, 100, positive_part)
    assert np.mean(random_orders) == pytest.approx(expected, rel=0.05)
    assert expected < 0.2  # the percentile gain put a random order near 0.5 with 70% ties at zero
    assert ndcg_at_k(skill, skill, 100, positive_part) == pytest.approx(1.0)


def test_ordering_the_no_skill_accounts_earns_nothing_against_skill():
    skill = np.array([0.05, 0.0, 0.0, -0.05])
    assert ndcg_at_k(skill, [1.0, 0.9, 0.8, 0.7], 2, positive_part) == ndcg_at_k(
        skill, [1.0, 0.7, 0.8, 0.9], 2, positive_part
    )


def test_without_any_skill_there_is_no_ndcg_against_skill():
    assert np.isnan(ndcg_at_k(np.zeros(10), np.arange(10.0), 5, positive_part))
    assert np.isnan(random_ndcg_at_k(np.zeros(10), 5, positive_part))
