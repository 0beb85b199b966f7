"""Walk-forward folds, ranking metrics, the gate and score finalisation."""

import numpy as np
import pandas as pd
import pytest

from components.config.settings import Settings
from components.evaluation.metrics import ndcg_at_k, spearman_ic
from components.labels import DERIVED_LABELS, LABELS
from components.ranking.learner import (
    RANKER_FEATURES,
    SKILL,
    choose_objective,
    feature_names,
    lgb_params,
    resolve_label,
    walk_forward,
)
from components.ranking.walk_forward import walk_forward_folds
from components.release.gate import gate, paired_difference
from components.release.training import gate_target
from components.scoring.finalize import ScoringConstants, finalize_scores
from feature_repo.feature_schema import FEATURES

MONTH_ENDS = pd.date_range("2020-01-31", periods=14, freq="ME")


def test_folds_slide_one_month_and_train_on_six():
    folds = walk_forward_folds(MONTH_ENDS, train_months=6, horizon_days=30)
    assert [len(f.train_dates) for f in folds] == [6] * len(folds)
    assert [f.test_date for f in folds] == sorted({f.test_date for f in folds})
    assert np.all(np.diff([f.test_date.month for f in folds]) % 12 == 1)


def test_no_train_label_window_reaches_the_test_date():
    for fold in walk_forward_folds(MONTH_ENDS, train_months=6, horizon_days=30):
        # label window (T, T+30d] plus a 30-day embargo ends before the test date
        assert max(fold.train_dates) + pd.Timedelta(days=60) <= fold.test_date


def test_longer_horizon_purges_more():
    short = walk_forward_folds(MONTH_ENDS, train_months=6, horizon_days=30)[-1]
    long = walk_forward_folds(MONTH_ENDS, train_months=6, horizon_days=90)[-1]
    assert max(long.train_dates) < max(short.train_dates)


def test_max_folds_keeps_the_latest():
    folds = walk_forward_folds(MONTH_ENDS, train_months=6, horizon_days=30, max_folds=2)
    assert [f.test_date for f in folds] == list(MONTH_ENDS[-2:])


def test_ndcg_perfect_reversed_and_negative_truth():
    truth = np.array([-3.0, -1.0, 0.5, 2.0])
    assert ndcg_at_k(truth, truth, k=4) == pytest.approx(1.0)
    assert ndcg_at_k(truth, -truth, k=2) < ndcg_at_k(truth, truth, k=2)


def test_spearman_ic_sign():
    x = np.arange(10.0)
    assert spearman_ic(x, x) == pytest.approx(1.0)
    assert spearman_ic(x, -x) == pytest.approx(-1.0)


def test_gate_needs_to_beat_baseline_and_champion():
    assert gate({"baseline": ([0.6, 0.7, 0.65], [0.5, 0.5, 0.5])}).promote
    assert not gate({"baseline": ([0.4, 0.45, 0.5], [0.5, 0.5, 0.5])}).promote
    both = {"baseline": ([0.6, 0.7], [0.5, 0.5]), "champion": ([0.6, 0.7], [0.7, 0.71])}
    decision = gate(both)
    assert not decision.promote
    assert any("may be worse than the champion" in reason for reason in decision.reasons)


def test_a_guardrail_breach_keeps_the_champion_even_when_the_candidate_ranks_better():
    comparisons = {"baseline": ([0.6, 0.7], [0.5, 0.5])}
    assert gate(comparisons, {"top_100_turnover": (0.3, 0.5)}).promote
    breached = gate(comparisons, {"top_100_turnover": (0.8, 0.5)})
    assert not breached.promote
    assert any("top_100_turnover 0.8000 exceeds its limit 0.5000" in reason for reason in breached.reasons)
    unmeasured = gate(comparisons, {"top_100_turnover": (float("nan"), 0.5)})
    assert unmeasured.promote and any("could not be measured" in reason for reason in unmeasured.reasons)


def test_paired_bootstrap_interval_contains_the_mean():
    diff = paired_difference([0.6, 0.7, 0.65, 0.62], [0.5, 0.55, 0.5, 0.6])
    assert diff["ci_low"] <= diff["mean_diff"] <= diff["ci_high"]
    assert diff["mean_diff"] == pytest.approx(0.105)


NO_SHRINKAGE = ScoringConstants(  # a huge prior variance keeps raw scores as they are
    neutral_score=0.5,
    prior_mean=0.0,
    prior_variance=1e12,
    score_scale=1.0,
    min_track_record_days=63,
    concentration_penalty=0.0,
    competing_accounts=1,
    sharpe_variance=0.0,
    fdr_p_cutoff=0.05,
)


def scoring_frame(account_ids: list[str], track_record_days: list[float]) -> pd.DataFrame:
    n = len(account_ids)
    return pd.DataFrame(
        {
            "account_id": account_ids,
            "track_record_days": track_record_days,
            "returns_12m": [min(days, 252) for days in track_record_days],
            "sharpe_12m": [0.5] * n,
            "skew_12m": [0.0] * n,
            "kurtosis_12m": [3.0] * n,
            "hhi": [0.2] * n,
            "universe_alpha_tstat_inception": [0.0] * n,
        }
    )


def test_new_accounts_get_neutral_score_and_status():
    frame = scoring_frame(["a", "b", "c"], [300, 5, 100])
    scores = finalize_scores(frame, [0.9, 5.0, 0.2], constants=NO_SHRINKAGE)
    assert scores["account_id"].tolist() == ["a", "b", "c"]
    assert scores.set_index("account_id").loc["b", "status"] == "new"
    assert scores.set_index("account_id").loc["b", "score"] == 0.5
    assert scores["score"].tolist() == pytest.approx([0.9, 0.5, 0.2])
    assert scores["confidence"].between(0, 1).all()


def test_ties_break_by_account_id():
    scores = finalize_scores(scoring_frame(["z", "a"], [100, 100]), [1.0, 1.0], constants=NO_SHRINKAGE)
    assert scores["account_id"].tolist() == ["a", "z"]


def labelled_frame(months: int) -> pd.DataFrame:
    """One account per month-end over `months` months, both labels known wherever they have matured."""
    dates = pd.date_range("2016-01-31", periods=months, freq="ME")
    frame = pd.DataFrame({"account_id": "a", "as_of_date": dates})
    frame["fwd_sharpe_30d"] = np.where(dates < dates[-1], 1.0, np.nan)
    frame["fwd_alpha_tstat_12m"] = np.where(dates <= dates[-1] - pd.DateOffset(months=12), 1.0, np.nan)
    return frame


def test_auto_takes_the_year_long_label_when_the_history_allows_a_fold():
    settings = Settings(label="auto", train_months=6)
    # 12 months to mature, 6 to train, two years of purge and embargo, 1 to test: 43 months at least
    assert resolve_label(labelled_frame(48), settings) == "fwd_alpha_tstat_12m"
    assert resolve_label(labelled_frame(24), settings) == "fwd_sharpe_30d"  # a two-year export
    assert resolve_label(labelled_frame(24), Settings(label="fwd_return_30d")) == "fwd_return_30d"


def test_auto_without_enough_history_for_any_label_says_what_is_missing():
    with pytest.raises(ValueError, match="not enough history for one walk-forward fold"):
        resolve_label(labelled_frame(4), Settings(label="auto", train_months=6))


def test_the_learner_reads_the_evidence_features_each_monotone_increasing():
    settings = Settings(ranker_features="evidence")
    names = feature_names(settings.ranker_features)
    assert names == list(RANKER_FEATURES)
    assert lgb_params(settings, 10_000, "regression")["monotone_constraints"] == [1] * len(names)
    assert set(feature_names("all")) == set(FEATURES) and set(names) <= set(FEATURES)
    with pytest.raises(ValueError, match="unknown feature set 'some'"):
        feature_names("some")


def test_the_gate_ranks_against_skill_where_the_world_has_it_and_the_label_elsewhere():
    with_truth = pd.DataFrame({"skill": [0.1, 0.0]})
    without = pd.DataFrame({"skill": [np.nan, np.nan]})
    assert gate_target(with_truth, Settings()) == "skill"
    assert gate_target(without, Settings()) == "label"
    assert gate_target(with_truth, Settings(gate_target="label")) == "label"
    with pytest.raises(ValueError, match="no truth/ table"):
        gate_target(without, Settings(gate_target="skill"))
    verdict = gate({"baseline": ([0.6, 0.7], [0.5, 0.5])}, target="skill")
    assert "mean NDCG@100 (vs skill) difference +0.1500" in verdict.reasons[0]


def walk_forward_frame(accounts: int = 120, months: int = 16) -> pd.DataFrame:
    """Random features and labels of `accounts` over `months` month-ends, with a latent skill column."""
    rng = np.random.default_rng(5)
    parts = []
    for as_of in pd.date_range("2019-01-31", periods=months, freq="ME"):
        part = pd.DataFrame({name: rng.normal(size=accounts) for name in FEATURES})
        part["account_id"] = [f"a{i}" for i in range(accounts)]
        part["as_of_date"] = as_of
        part["track_record_days"] = rng.integers(63, 900, accounts).astype(float)
        part["returns_12m"] = part["track_record_days"].clip(upper=252)
        part["skew_12m"], part["kurtosis_12m"] = 0.0, 3.0
        for label in [*LABELS, *DERIVED_LABELS]:
            part[label] = rng.normal(size=accounts)
        part[SKILL] = part["sharpe_12m"] + rng.normal(0, 0.5, accounts)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_the_objective_choice_reuses_its_fitted_folds_for_the_diagnostics():
    settings = Settings(
        objective="auto", label="fwd_sharpe_30d", train_months=6, max_folds=2, n_estimators=20, seed=1
    )
    frame = walk_forward_frame()
    chosen, _ = choose_objective(frame, settings)
    refitted = walk_forward(frame, settings, chosen.objective)  # every fold fitted again, as before
    pd.testing.assert_frame_equal(chosen.fold_metrics, refitted.fold_metrics)
    pd.testing.assert_frame_equal(chosen.predictions, refitted.predictions)
    pd.testing.assert_frame_equal(chosen.evaluation_frame, refitted.evaluation_frame)
    assert {"survivors_only", "ceiling"} <= set(chosen.evaluation_frame.columns)
