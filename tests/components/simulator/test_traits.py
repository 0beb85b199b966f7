"""The latent traits of accounts: skill shares and ranges, archetypes, open days, the knobs' effect."""

from __future__ import annotations

import numpy as np

from components.simulator.params import WorldParams
from components.simulator.traits import archetypes, draw_open_days, draw_skill, draw_traits


def test_most_skill_is_zero_and_the_rest_lies_in_the_skill_range_or_its_negative():
    skill = draw_skill(np.random.default_rng(0), 20_000, WorldParams())
    positive, negative = skill[skill > 0], skill[skill < 0]
    assert abs((skill == 0).mean() - 0.70) < 0.02
    assert abs(len(positive) / len(skill) - 0.20) < 0.02
    assert positive.min() >= 0.02 and positive.max() <= 0.10
    assert negative.min() >= -0.10 and negative.max() <= -0.02


def test_archetype_is_the_behaviour_for_meme_and_gambler_else_the_sign_of_skill():
    style = np.array([0, 0, 0, 1, 2])
    skill = np.array([0.05, 0.0, -0.05, 0.05, 0.0])
    assert archetypes(style, skill).tolist() == ["skilled", "unskilled", "negative", "meme", "gambler"]


def test_open_days_fall_in_the_window_with_many_early_ones():
    params = WorldParams()
    days = draw_open_days(np.random.default_rng(0), 10_000, 250, params)
    assert days.min() >= 0 and days.max() < 250
    assert (days < params.early_open_days).mean() > params.early_open_share


def test_without_meme_or_gambler_shares_no_account_chases_the_hot_stock(tiny_market):
    params = WorldParams(share_meme=0.0, share_gambler=0.0)
    traits = draw_traits(np.random.default_rng(0), 500, tiny_market, params)
    assert set(traits.archetype) <= {"skilled", "unskilled", "negative"}
    assert (traits.hot_weight == 0).all()
    assert traits.allowed.shape == (500, 3)
