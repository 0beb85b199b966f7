"""`skillrank study` compares labels on the same test dates, and each addition against the evidence inputs."""

import numpy as np
import pandas as pd
import pytest

from components.config.feast import INPUT_SERVICES
from components.config.settings import Settings
from components.errors import DataError
from components.labels import DERIVED_LABELS, LABELS
from components.ranking.baselines import BASELINES
from components.ranking.learner import RANKER_FEATURES, SKILL, feature_names, lgb_params
from components.ranking.study import (
    addition_inputs,
    aligned_labels,
    evidence_plus,
    study_rows,
    top_share_precision,
)
from feature_repo.feature_schema import FEATURES

ADDED = "post_trade_tstat_10d_inception"


def test_labels_are_compared_up_to_the_last_date_the_slowest_has_matured():
    dates = pd.date_range("2020-01-31", periods=24, freq="ME")
    frame = pd.DataFrame(
        {"as_of_date": dates, "short": 1.0, "long": np.where(dates <= dates[11], 2.0, np.nan)}
    )
    aligned, end = aligned_labels(frame, ["short", "long"])
    assert end == dates[11]
    assert aligned["short"].notna().sum() == 12 and aligned["long"].notna().sum() == 12
    assert frame["short"].notna().sum() == 24  # the caller's frame is left alone


def test_precision_counts_the_top_k_in_the_top_decile_of_the_target_with_a_positive_gain():
    # 20 accounts: the top decile of skill is s19 and s18; s18 has no skill, so only s19 counts.
    skill = [0.0] * 19 + [0.5]
    day = pd.DataFrame({"account_id": [f"s{i:02d}" for i in range(20)], "skill": skill})
    day["score"] = np.arange(20.0)  # the top 2 by score: s19, s18
    assert top_share_precision(day, "score", "skill", "skill", k=2) == 0.5
    day["score"] = -np.arange(20.0)  # the top 2 by score: s00, s01
    assert top_share_precision(day, "score", "skill", "skill", k=2) == 0.0
    day["label"] = np.arange(20.0)  # against the label every gain is positive: s19 and s18 count
    day["score"] = np.arange(20.0)
    assert top_share_precision(day, "score", "label", "label", k=2) == 1.0
    assert np.isnan(top_share_precision(day.head(2), "score", "label", "label", k=2))


def test_an_addition_is_a_group_or_one_feature_and_an_unknown_name_is_refused():
    assert addition_inputs("post_trade_tstat_inception") == {
        "post_trade_tstat_5d_inception": 1,
        "post_trade_tstat_10d_inception": 1,
        "post_trade_tstat_20d_inception": 1,
    }
    assert addition_inputs(ADDED) == {ADDED: 1}  # the domain is sure of its direction
    assert addition_inputs("hhi") == {"hhi": 0}  # not sure: unconstrained
    with pytest.raises(DataError, match="unknown addition 'nope'"):
        addition_inputs("nope")


def test_the_learner_reads_the_evidence_plus_the_addition_monotone_only_while_it_runs():
    before_services, before_directions = dict(INPUT_SERVICES), dict(RANKER_FEATURES)
    with evidence_plus(ADDED) as name:
        assert feature_names(name) == [*before_directions, ADDED]
        settings = Settings().model_copy(update={"ranker_features": name})
        assert lgb_params(settings, 10_000, "regression")["monotone_constraints"] == [1] * 7
    assert before_services == INPUT_SERVICES and before_directions == RANKER_FEATURES  # restored


def study_frame(accounts: int = 1200, months: int = 12) -> pd.DataFrame:
    """Random features over `months` month-ends: skill shows in one post-trade t-stat, and the label."""
    rng = np.random.default_rng(3)
    parts = []
    for as_of in pd.date_range("2019-01-31", periods=months, freq="ME"):
        part = pd.DataFrame({name: rng.normal(size=accounts) for name in FEATURES})
        part["account_id"] = [f"a{i:03d}" for i in range(accounts)]
        part["as_of_date"] = as_of
        part["track_record_days"] = rng.integers(63, 900, accounts).astype(float)
        part["skew_12m"], part["kurtosis_12m"] = 0.0, 3.0
        for label in [*LABELS, *DERIVED_LABELS]:
            part[label] = rng.normal(size=accounts)
        skilled = rng.random(accounts) < 0.3
        part[SKILL] = np.where(skilled, rng.uniform(0.05, 0.3, accounts), 0.0)
        part[ADDED] = part[SKILL] * 10 + rng.normal(0, 0.3, accounts)  # the trades reveal skill
        part["fwd_sharpe_30d"] = part[SKILL] * 10 + rng.normal(0, 1.0, accounts)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_the_study_shows_what_an_addition_adds_to_the_evidence_on_ndcg_and_precision():
    settings = Settings(train_months=6, max_folds=2, n_estimators=30, seed=1)
    table = study_rows(study_frame(), settings, ["fwd_sharpe_30d"], [], ["regression"], [ADDED])
    assert table["features"].tolist() == ["evidence", f"evidence+{ADDED}"]  # the evidence row comes first
    scorers = ["model", *BASELINES, "random"]
    for target in ("label", "skill"):
        for metric in ("ndcg", "p100"):
            assert {f"{scorer}_vs_{target}_{metric}" for scorer in scorers} <= set(table.columns)
    evidence, added = table.iloc[0], table.iloc[1]
    assert (table["folds"] == 2).all()
    # Only the addition carries skill here: with it the model finds the skilled, without it it cannot.
    assert added["model_vs_skill_ndcg"] > evidence["model_vs_skill_ndcg"] + 0.2
    assert added["model_vs_skill_p100"] > 0.8 > evidence["model_vs_skill_p100"] + 0.3
    assert evidence["random_vs_skill_p100"] == pytest.approx(0.1, abs=0.03)  # the top decile's share
    assert added["roi_log_days_vs_skill_p100"] == evidence["roi_log_days_vs_skill_p100"]  # same dates
