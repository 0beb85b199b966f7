"""The gate step: the verdict on a training outcome, recorded in MLflow, and the promotion."""

import math

import pytest

from components.config import registry
from components.release.gate import GateDecision
from components.release.promotion import decide, promote, record_decision
from components.release.training import TrainingOutcome


def outcome(version: str = "1", run_id: str = "run", **changes) -> TrainingOutcome:
    values = dict(
        run_id=run_id,
        version=version,
        summary={},
        report="report.html",
        candidate_ndcg=[0.6, 0.7, 0.65],
        baseline_ndcg=[0.5, 0.5, 0.5],
        gate_target="label",
        candidate_top_turnover=0.2,
    )
    return TrainingOutcome(**values | changes)


def test_without_a_champion_the_candidate_must_beat_the_baseline(settings):
    decision = decide(outcome(), settings)
    assert decision.promote
    assert decision.reasons[0].startswith("beats the baseline: mean NDCG@100 (vs label)")
    assert decision.reasons[-1] == "there is no champion yet"
    assert "champion_mean" not in decision.numbers


def test_a_challenger_whose_ci_crosses_zero_is_not_promoted_and_the_heuristic_stays(settings):
    # A positive mean difference (+0.037) on three folds, but one fold is worse: no evidence.
    decision = decide(outcome(candidate_ndcg=[0.6, 0.45, 0.56]), settings)
    assert decision.numbers["vs_baseline_mean_diff"] > 0 > decision.numbers["vs_baseline_ci_low"]
    assert not decision.promote
    assert decision.rule == "superiority over the baseline"
    assert decision.headline().startswith("KEEP HEURISTIC (decided by superiority over the baseline)")
    assert decision.reasons[-1] == "there is no champion yet: the feed serves the heuristic ranking"


def test_a_challenger_within_the_margin_of_the_champion_is_promoted(settings):
    level = dict(candidate_ndcg_vs_champion=[0.700, 0.695, 0.702], champion_ndcg=[0.70, 0.70, 0.70])
    assert decide(outcome(**level), settings).promote  # CI low -0.005 >= -0.01
    strict = settings.model_copy(update={"non_inferiority_margin": 0.0})
    decision = decide(outcome(**level), strict)
    assert not decision.promote and decision.rule == "non-inferiority to the champion"
    assert decision.headline().startswith("KEEP CHAMPION")


def test_the_champion_is_compared_on_its_own_folds(settings):
    decision = decide(outcome(champion_ndcg=[0.8, 0.8], candidate_ndcg_vs_champion=[0.7, 0.65]), settings)
    assert not decision.promote
    assert any(reason.startswith("may be worse than the champion") for reason in decision.reasons)
    assert decision.numbers["champion_mean"] == pytest.approx(0.8)
    assert decision.numbers["candidate_mean_vs_champion"] == pytest.approx(0.675)


def test_the_turnover_guardrail_reads_the_settings_limit(settings):
    strict = settings.model_copy(update={"max_top_turnover": 0.1})
    assert decide(outcome(), settings).promote
    decision = decide(outcome(), strict)
    assert not decision.promote
    assert decision.numbers["guardrail_top_100_turnover_limit"] == pytest.approx(0.1)


def test_the_verdict_is_logged_on_the_training_run_and_tags_the_version(
    client, settings, register, elsewhere
):
    version = register()
    run_id = client.get_model_version(settings.model_name, version).run_id
    decision = GateDecision(
        True, ["beats the baseline", "there is no champion yet"], {"a": 0.5, "b": math.nan}
    )
    record_decision(client, outcome(version, run_id), decision, settings.model_name)
    run = client.get_run(run_id)
    assert run.data.tags["gate_promote"] == "True"
    assert run.data.tags["gate_reasons"] == "beats the baseline | there is no champion yet"
    assert {k: v for k, v in run.data.metrics.items() if k.startswith("gate_")} == {
        "gate_a": 0.5
    }  # NaN left out
    assert client.get_model_version(settings.model_name, version).tags["gate"] == "passed"
    assert not elsewhere.used


def test_a_failed_verdict_tags_the_version_failed(client, settings, register):
    version = register()
    run_id = client.get_model_version(settings.model_name, version).run_id
    record_decision(client, outcome(version, run_id), GateDecision(False, ["no"]), settings.model_name)
    assert client.get_run(run_id).data.tags["gate_promote"] == "False"
    assert client.get_model_version(settings.model_name, version).tags["gate"] == "failed"


def test_promotion_moves_the_champion_alias_and_leaves_the_old_version_alone(client, settings, register):
    old = register(tags={"gate": "passed"}, alias=registry.CHAMPION)
    new = register()
    promote(client, settings.model_name, new)
    assert str(client.get_model_version_by_alias(settings.model_name, registry.CHAMPION).version) == new
    previous = client.get_model_version(settings.model_name, old)
    assert previous.aliases == [] and previous.tags == {"gate": "passed"}


def test_a_challenger_recommending_day_traders_is_held_back_by_the_portfolio_turnover_guardrail(settings):
    assert decide(outcome(candidate_portfolio_turnover=1.2), settings).promote
    decision = decide(outcome(candidate_portfolio_turnover=3.0), settings)
    assert not decision.promote
    assert decision.rule == "the top_100_portfolio_turnover_ratio guardrail"
    assert (
        decision.numbers["guardrail_top_100_portfolio_turnover_ratio_limit"]
        == settings.max_portfolio_turnover_ratio
    )


def test_where_nothing_can_be_measured_nothing_is_promoted(settings):
    # Against skill on a world where nobody is skilled, every fold's NDCG@100 is undefined.
    nan = [math.nan, math.nan, math.nan]
    decision = decide(outcome(candidate_ndcg=nan, baseline_ndcg=nan, gate_target="skill"), settings)
    assert not decision.promote and decision.rule == "superiority over the baseline"
    assert decision.reasons[0] == (
        "no evidence against the baseline: NDCG@100 (vs skill) could not be measured on any of 3 folds"
    )
