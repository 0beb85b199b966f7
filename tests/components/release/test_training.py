"""What training hands the gate (a `TrainingOutcome`) and what it registers for serving and the gate."""

import json
import math

import mlflow
import numpy as np
import pandas as pd

from components.config import registry
from components.config.feast import input_service
from components.config.tracking import load_booster, use_experiment
from components.ranking.learner import NDCG_K, WalkForwardResult
from components.release.training import TrainingOutcome, per_fold, register_challenger
from components.scoring.finalize import ScoringConstants, fit_scoring_constants
from tests.serving_world import AS_OF_DATES, FEATURE_NAMES

NDCG = f"model_vs_label_ndcg_at_{NDCG_K}"


def folds(model: list[float], baseline: list[float]) -> WalkForwardResult:
    metrics = pd.DataFrame(
        {
            "fold": range(len(model)),
            "test_date": AS_OF_DATES,
            NDCG: model,
            f"roi_log_days_vs_label_ndcg_at_{NDCG_K}": baseline,
        }
    )
    return WalkForwardResult(metrics, None, None)


def test_the_outcome_crosses_the_process_boundary_as_json_unchanged():
    outcome = TrainingOutcome(
        run_id="abc",
        version="4",
        summary={"mean_model_vs_label_ndcg_at_100": 0.61, "mean_ceiling_vs_skill_ic": math.nan},
        report="/data/reports/evaluation/report.html",
        candidate_ndcg=[0.6, 0.62],
        baseline_ndcg=[0.5, 0.55],
        gate_target="skill",
        candidate_top_turnover=math.nan,  # a single test date has no month-over-month turnover
        champion_ndcg=[0.58],
        candidate_ndcg_vs_champion=[0.62],
    )
    back = TrainingOutcome.from_json(outcome.to_json())
    assert math.isnan(back.candidate_top_turnover) and math.isnan(back.summary["mean_ceiling_vs_skill_ic"])
    assert back.candidate_ndcg == [0.6, 0.62] and back.champion_ndcg == [0.58] and back.version == "4"
    assert json.loads(outcome.to_json())["gate_target"] == "skill"


def test_without_a_champion_its_lists_stay_none():
    outcome = TrainingOutcome("abc", "1", {}, "r.html", [0.6], [0.5], "label", 0.1)
    assert TrainingOutcome.from_json(outcome.to_json()).champion_ndcg is None


def test_the_gate_compares_per_fold_ndcg_by_test_date():
    result = folds([0.4, 0.5], [0.3, 0.35])
    assert per_fold(result, "model", "label").to_dict() == dict(zip(AS_OF_DATES, [0.4, 0.5], strict=True))
    assert per_fold(result, "roi_log_days", "label").tolist() == [0.3, 0.35]


def test_the_challenger_carries_its_constants_training_end_and_fold_ndcg(
    settings, features, booster, elsewhere
):
    tracking = use_experiment(settings)  # logging a model needs the fluent API (the entry point's job)
    first = features[features["as_of_date"] == AS_OF_DATES[0]]
    constants = fit_scoring_constants(
        first, booster.predict(first[FEATURE_NAMES]), min_track_record_days=63, concentration_penalty=1.0
    )
    with mlflow.start_run(experiment_id=tracking.experiment_id):
        version = register_challenger(
            booster, settings, folds([0.4, 0.5], [0.3, 0.3]), AS_OF_DATES, constants, "label", tracking.client
        )
    registered = tracking.client.get_model_version_by_alias(settings.model_name, registry.CHALLENGER)
    assert str(registered.version) == version
    assert ScoringConstants.from_tags(registered.tags) == constants
    assert registered.tags[registry.TAG_TRAIN_END] == "2021-06-30"
    assert registered.tags[registry.TAG_FEATURE_SERVICE] == input_service(settings.ranker_features).name
    assert json.loads(registered.tags[registry.TAG_WALK_FORWARD_NDCG]) == {
        "2021-05-31": 0.4,
        "2021-06-30": 0.5,
    }
    loaded = load_booster(tracking.client, settings.model_name, version)
    np.testing.assert_allclose(loaded.predict(first[FEATURE_NAMES]), booster.predict(first[FEATURE_NAMES]))
    assert not elsewhere.used
