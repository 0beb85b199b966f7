"""Reasons a feed can show, from literal feature contributions."""

import numpy as np
import pytest

from components.scoring.explanations import feature_label, probability_reason, reasons
from feature_repo.feature_schema import FEATURES


def test_contributions_become_sentences_largest_first():
    contributions = {"hhi": -0.03, "sharpe_12m": 0.05, "track_record_days": 0.01}
    features = {"hhi": 0.95, "sharpe_12m": 1.84, "track_record_days": 504.0}
    assert reasons(contributions, features) == [
        "a 12-month Sharpe ratio of 1.8 lifted the score",
        "concentrated in 1 stock lowered the score",
        "a 2.0-year track record lifted the score",
    ]


def test_a_positive_contribution_lifted_and_a_negative_one_lowered_the_score():
    features = {"max_drawdown_12m": 0.12}
    assert reasons({"max_drawdown_12m": 0.2}, features) == ["a 12-month max drawdown of 12% lifted the score"]
    assert reasons({"max_drawdown_12m": -0.2}, features) == [
        "a 12-month max drawdown of 12% lowered the score"
    ]


def test_an_unknown_feature_gets_a_generic_sentence():
    assert reasons({"alpha_tstat_36m": 0.1}, {"alpha_tstat_36m": 2.314}) == [
        "a 36-month alpha tstat of 2.31 lifted the score"
    ]
    assert reasons({"insider_flag": -0.1}, {"insider_flag": 1.0}) == [
        "an insider flag of 1 lowered the score"
    ]


def test_a_missing_value_is_said_to_be_unknown():
    assert reasons({"sharpe_12m": -0.02}, {"sharpe_12m": np.nan}) == [
        "an unknown 12-month Sharpe ratio lowered the score"
    ]
    assert reasons({"n_tickers": 0.01}, {}) == ["an unknown number of holdings lifted the score"]


def test_zero_contributions_are_skipped_and_the_limit_holds():
    contributions = {"n_tickers": 0.0, "return_12m": 0.3, "volatility_12m": -0.2, "tenure_days": 0.1}
    features = {"n_tickers": 3.0, "return_12m": 0.25, "volatility_12m": 0.4, "tenure_days": 800.0}
    assert reasons(contributions, features, limit=2) == [
        "a 12-month return of +25% lifted the score",
        "a 12-month volatility of 40% lowered the score",
    ]


@pytest.mark.parametrize(
    ("hhi", "text"),
    [
        (1.0, "concentrated in 1 stock"),
        (0.5, "concentrated in about 2 stocks"),
        (0.1, "spread over about 10 stocks"),
    ],
)
def test_concentration_reads_as_an_effective_number_of_stocks(hhi, text):
    assert reasons({"hhi": 0.1}, {"hhi": hhi}) == [f"{text} lifted the score"]


def test_every_feature_of_the_schema_has_a_sentence():
    for name in FEATURES:
        [sentence] = reasons({name: -0.1}, {name: 1.0})
        assert sentence.endswith(" lowered the score") and len(sentence) < 80


def test_window_suffixes_read_as_words():
    assert feature_label("beta_12m") == "12-month beta"
    assert feature_label("market_vol_21d") == "21-day market vol"


def test_probability_of_skill_reads_as_a_percentage():
    assert probability_reason(0.874) == "probability of skill 87%"
    assert probability_reason(float("nan")) is None


def test_a_low_probability_says_how_few_of_the_platform_have_an_edge():
    assert probability_reason(0.02, no_skill_share=0.9) == (
        "probability of skill 2% (on this platform an estimated 90% of accounts have no edge)"
    )
    assert probability_reason(0.8, no_skill_share=0.9) == "probability of skill 80%"  # nothing to explain
