"""The one scoring path of batch and serving: shrinkage, concentration penalty, probability of skill, FDR."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from components.config import registry
from components.errors import DataError
from components.scoring.finalize import (
    ScoringConstants,
    finalize_scores,
    fit_scoring_constants,
    probability_of_skill,
)
from components.scoring.luck import (
    bh_cutoff,
    expected_max_sharpe,
    fdr_skilled,
    probabilistic_sharpe_ratio,
)
from components.scoring.skill_probability import SkillPrior, fit_skill_prior, p_values

PRIOR = SkillPrior(edges=(-1.0, 0.0, 1.0), weights=(0.1, 0.7, 0.2))

CONSTANTS = ScoringConstants(
    neutral_score=-1.0,
    prior_mean=0.0,
    prior_variance=1.0,
    score_scale=2.0,
    min_track_record_days=63,
    concentration_penalty=2.0,
    competing_accounts=1,  # one account competing: the DSR is the PSR against 0
    sharpe_variance=0.004,
    fdr_p_cutoff=0.05,
    skill_prior=PRIOR,
)


def accounts(**columns) -> pd.DataFrame:
    """A feature frame with normal moments, a diversified book and a year of returns unless given."""
    n = len(next(iter(columns.values())))
    base = {
        "account_id": [f"acc-{i}" for i in range(n)],
        "track_record_days": [252.0] * n,
        "sharpe_12m": [0.0] * n,
        "skew_12m": [0.0] * n,
        "kurtosis_12m": [3.0] * n,
        "hhi": [0.2] * n,
        "universe_alpha_tstat_inception": [0.0] * n,
    }
    frame = pd.DataFrame(base | columns)
    if "returns_12m" not in columns:  # the 12-month window holds at most a year of returns
        frame["returns_12m"] = frame["track_record_days"].clip(upper=252.0)
    return frame


def test_final_scores_by_hand():
    features = accounts(
        account_id=["a", "b", "c", "d"],
        track_record_days=[252.0, 252.0, 1008.0, 10.0],
        hhi=[0.2, 1.0, 0.2, 0.2],
    )
    # z = raw / 2; se = 1 (252 days) or 0.5 (1008 days); w = 1 / (1 + se²); score = w·z − 2·max(0, hhi − 0.5)
    scores = finalize_scores(features, [4.0, 4.0, 2.0, 9.0], constants=CONSTANTS).set_index("account_id")
    assert scores.index.tolist() == ["a", "c", "b", "d"]
    np.testing.assert_allclose(scores["score"], [1.0, 0.8, 0.0, -1.0])
    np.testing.assert_allclose(scores["confidence"], [0.5, 0.8, 0.5, 0.0])
    assert scores["status"].tolist() == ["established", "established", "established", "new"]


def test_a_short_track_record_is_shrunk_more_and_trusted_less():
    features = accounts(track_record_days=[100.0, 700.0])
    short, long = (
        finalize_scores(features, [3.0, 3.0], constants=CONSTANTS).sort_values("account_id").itertuples()
    )
    assert 0 < short.score < long.score < 1.5
    assert short.confidence < long.confidence


def test_concentration_in_one_stock_costs_score():
    features = accounts(hhi=[0.95, 0.5, 0.1])
    scores = finalize_scores(features, [3.0, 3.0, 3.0], constants=CONSTANTS).set_index("account_id")["score"]
    assert scores["acc-0"] == pytest.approx(scores["acc-2"] - 2.0 * 0.45)
    assert scores["acc-1"] == scores["acc-2"]  # two equal positions: no penalty


def test_new_accounts_get_the_neutral_score_and_status():
    scores = finalize_scores(
        accounts(track_record_days=[300.0, 5.0, 100.0]), [0.9, 5.0, 0.2], constants=CONSTANTS
    ).set_index("account_id")
    assert scores.loc["acc-1", "status"] == "new"
    assert scores.loc["acc-1", "score"] == -1.0
    assert scores["confidence"].between(0, 1).all()


def test_ties_break_by_account_id():
    scores = finalize_scores(accounts(account_id=["z", "a"]), [1.0, 1.0], constants=CONSTANTS)
    assert scores["account_id"].tolist() == ["a", "z"]


def test_probability_of_skill_is_the_posterior_of_the_universe_alpha_t_stat():
    features = accounts(
        universe_alpha_tstat_inception=[3.0, 3.0, np.nan], track_record_days=[1008.0, 63.0, 500.0]
    )
    probability = probability_of_skill(features, CONSTANTS)
    np.testing.assert_allclose(probability[:2], PRIOR.probability_of_skill([3.0, 3.0], [1008.0, 63.0]))
    assert np.isnan(probability[2])  # no t-stat: no probability


def test_a_bull_market_sharpe_without_an_edge_is_no_evidence_of_skill():
    features = accounts(sharpe_12m=[3.0, 0.0], track_record_days=[1008.0, 1008.0])  # both t-stats 0
    scores = finalize_scores(features, [0.0, 0.0], constants=CONSTANTS).set_index("account_id")
    assert scores.loc["acc-0", "probability_of_skill"] == scores.loc["acc-1", "probability_of_skill"]
    assert not scores["fdr_pass"].any()


def test_a_long_record_far_from_zero_is_likely_skilled():
    features = accounts(universe_alpha_tstat_inception=[3.2], track_record_days=[1260.0])
    assert probability_of_skill(features, CONSTANTS)[0] > 0.9  # never "3.2 standard errors" beside 1%


def test_dsr_vs_best_of_n_is_the_psr_against_the_luckiest_of_n():
    features = accounts(sharpe_12m=[2.0, 2.0, 2.0], track_record_days=[252.0, 252.0, 1.0])
    crowd = dataclasses.replace(CONSTANTS, competing_accounts=20_000)
    dsr = finalize_scores(features, [0.0] * 3, constants=crowd).set_index("account_id")["dsr_vs_best_of_n"]
    # DSR = PSR against the expected best of 20,000 skill-less Sharpe ratios of variance 0.004
    bar = expected_max_sharpe(20_000, 0.004)
    psr = probabilistic_sharpe_ratio(2.0 / math.sqrt(252), 252, 0.0, 3.0, benchmark=bar)
    assert dsr["acc-0"] == pytest.approx(float(psr))
    alone = finalize_scores(features, [0.0] * 3, constants=CONSTANTS).set_index("account_id")[
        "dsr_vs_best_of_n"
    ]
    assert dsr["acc-0"] < alone["acc-0"]
    assert np.isnan(dsr["acc-2"])  # one return


def test_fdr_pass_applies_the_stored_cut_off_to_the_same_p_values_whatever_is_scored_beside():
    features = accounts(universe_alpha_tstat_inception=[4.0, 3.0, 1.0, 0.2, np.nan])
    p = p_values(features["universe_alpha_tstat_inception"])
    cutoff = bh_cutoff(p, alpha=0.1)
    constants = dataclasses.replace(CONSTANTS, fdr_p_cutoff=cutoff)
    together = finalize_scores(features, [0.0] * 5, constants=constants).set_index("account_id")
    expected = fdr_skilled(p, alpha=0.1)[1]  # BH over these five is what the cut-off encodes
    assert together.loc[features["account_id"], "fdr_pass"].tolist() == expected.tolist()
    assert together.loc["acc-0", "fdr_pass"] and not together.loc["acc-3", "fdr_pass"]
    assert not together.loc["acc-4", "fdr_pass"]  # no t-stat: untested
    alone = finalize_scores(features.iloc[[1]], [0.0], constants=constants)  # a feed of one candidate
    assert alone["fdr_pass"].tolist() == [together.loc["acc-1", "fdr_pass"]]


def test_missing_luck_features_are_named():
    features = accounts(hhi=[0.2]).drop(columns=["skew_12m", "kurtosis_12m"])
    with pytest.raises(DataError, match=r"\['skew_12m', 'kurtosis_12m'\]"):
        finalize_scores(features, [1.0], constants=CONSTANTS)


def test_raw_scores_of_another_length_are_an_error():
    with pytest.raises(ValueError, match="got 1 raw scores for 2 accounts"):
        finalize_scores(accounts(hhi=[0.2, 0.2]), [1.0], constants=CONSTANTS)


def test_constants_round_trip_through_model_version_tags_exactly():
    constants = ScoringConstants(
        neutral_score=0.1 + 0.2,
        prior_mean=1 / 3,
        prior_variance=2 / 7,
        score_scale=0.0123456789,
        min_track_record_days=63,
        concentration_penalty=1.5,
        competing_accounts=12345,
        sharpe_variance=1 / 250,
        fdr_p_cutoff=0.0123,
        skill_prior=SkillPrior(edges=(0.0, 0.5), weights=(0.75, 0.25)),
    )
    tags = constants.to_tags()
    assert set(tags) == {
        registry.TAG_NEUTRAL_SCORE,
        registry.TAG_PRIOR_MEAN,
        registry.TAG_PRIOR_VARIANCE,
        registry.TAG_SCORE_SCALE,
        registry.TAG_MIN_TRACK_RECORD_DAYS,
        registry.TAG_CONCENTRATION_PENALTY,
        registry.TAG_COMPETING_ACCOUNTS,
        registry.TAG_SHARPE_VARIANCE,
        registry.TAG_FDR_P_CUTOFF,
        registry.TAG_SKILL_PRIOR,
    }
    assert all(isinstance(value, str) for value in tags.values())
    assert ScoringConstants.from_tags(tags | {registry.TAG_TRAIN_END: "2021-06-30"}) == constants
    assert ScoringConstants.from_tags(constants.to_dict()) == constants  # a predictor reply's numbers


def test_missing_constants_are_named():
    tags = CONSTANTS.to_tags()
    del tags[registry.TAG_PRIOR_VARIANCE], tags[registry.TAG_SCORE_SCALE]
    with pytest.raises(ValueError, match=r"\['prior_variance', 'score_scale'\] are missing"):
        ScoringConstants.from_tags(tags)


def test_a_constant_that_is_not_a_number_is_named():
    with pytest.raises(ValueError, match="prior_mean='high' is unusable"):
        ScoringConstants.from_tags(CONSTANTS.to_tags() | {registry.TAG_PRIOR_MEAN: "high"})


def test_a_missing_skill_prior_is_named():
    tags = CONSTANTS.to_tags()
    del tags[registry.TAG_SKILL_PRIOR]
    with pytest.raises(ValueError, match=r"\['skill_prior'\] are missing"):
        ScoringConstants.from_tags(tags)


def test_a_malformed_skill_prior_is_named():
    with pytest.raises(ValueError, match="skill_prior='.*' is unusable: a skill prior is JSON"):
        ScoringConstants.from_tags(CONSTANTS.to_tags() | {registry.TAG_SKILL_PRIOR: "[0.5, 0.5]"})


def test_a_non_positive_prior_variance_is_an_error():
    with pytest.raises(ValueError, match="prior_variance and score_scale must be positive"):
        ScoringConstants.from_tags(CONSTANTS.to_tags() | {registry.TAG_PRIOR_VARIANCE: "0.0"})


def test_fitted_constants_by_hand():
    features = accounts(track_record_days=[252.0, 252.0, 252.0, 63.0, 5.0])
    constants = fit_scoring_constants(
        features, [0.0, 4.0, 8.0, 4.0, 100.0], min_track_record_days=63, concentration_penalty=1.5
    )
    # established raw 0, 4, 8, 4: sd = sqrt(32/3); z variance 1; mean se² (1 + 1 + 1 + 4) / 4 -> floored
    assert constants.score_scale == pytest.approx(math.sqrt(32 / 3))
    assert constants.prior_mean == pytest.approx(16 / 4 / math.sqrt(32 / 3))
    assert constants.prior_variance == 1e-4
    assert constants.neutral_score == constants.prior_mean
    assert (constants.min_track_record_days, constants.concentration_penalty) == (63, 1.5)
    assert constants.competing_accounts == 4  # the established accounts: the 5-day one does not compete
    evidence = features["universe_alpha_tstat_inception"].iloc[:4]
    assert constants.fdr_p_cutoff == bh_cutoff(p_values(evidence), alpha=0.1)
    assert constants.skill_prior == fit_skill_prior(evidence, features["track_record_days"].iloc[:4])


def test_without_any_t_stat_nobody_is_taken_to_be_skilled():
    features = accounts(universe_alpha_tstat_inception=[np.nan, np.nan])
    constants = fit_scoring_constants(
        features, [0.0, 1.0], min_track_record_days=63, concentration_penalty=1.0
    )
    assert constants.skill_prior.no_skill_share == 1.0


def test_luck_constants_come_from_the_latest_date_only():
    features = accounts(track_record_days=[252.0] * 5, sharpe_12m=[0.5, 1.0, 1.5, 2.0, 9.0])
    features["as_of_date"] = pd.to_datetime(["2021-01-31"] * 3 + ["2021-02-28"] * 2)
    constants = fit_scoring_constants(
        features, [0, 1, 2, 3, 4], min_track_record_days=63, concentration_penalty=1.0
    )
    assert constants.competing_accounts == 2
    assert constants.skill_prior == fit_skill_prior([0.0, 0.0], [252.0, 252.0])
    assert constants.sharpe_variance == pytest.approx(
        np.var([2.0 / math.sqrt(252), 9.0 / math.sqrt(252)], ddof=1)
    )


def test_fitting_needs_two_established_accounts():
    with pytest.raises(ValueError, match="at least 2 accounts with 63 or more daily returns, got 1"):
        fit_scoring_constants(
            accounts(track_record_days=[252.0, 10.0]),
            [1.0, 2.0],
            min_track_record_days=63,
            concentration_penalty=1.0,
        )


def test_the_scoring_service_serves_the_evidence_the_probability_of_skill_reads():
    from components.scoring.finalize import SCORING_FEATURES
    from components.scoring.skill_probability import SKILL_EVIDENCE

    assert SKILL_EVIDENCE in SCORING_FEATURES
