"""The champion read from the registry through an explicit client, and re-scored on the challenger's folds."""

import json

import pandas as pd
import pytest

from components.config import registry
from components.ranking.learner import NDCG_K, WalkForwardResult, fold_metrics, predict
from components.release.champion import champion_fold_ndcg, champion_version, version_by_alias
from tests.serving_world import AS_OF_DATES

NDCG = f"model_vs_label_ndcg_at_{NDCG_K}"


def folds_on(dates) -> WalkForwardResult:
    """A walk-forward result whose folds test on `dates` (all the champion's comparison reads)."""
    return WalkForwardResult(pd.DataFrame({"fold": range(len(dates)), "test_date": dates}), None, None)


def test_without_a_registered_model_there_is_no_champion(client, settings, features, elsewhere):
    assert version_by_alias(client, settings.model_name, registry.CHALLENGER) is None
    assert champion_version(client, settings.model_name) is None
    assert champion_fold_ndcg(features, folds_on(AS_OF_DATES), settings, client) is None
    assert not elsewhere.used


def test_the_alias_names_the_champion_version(client, settings, register):
    register(alias=registry.CHALLENGER)
    champion = register(alias=registry.CHAMPION)
    assert str(champion_version(client, settings.model_name).version) == champion
    assert str(version_by_alias(client, settings.model_name, registry.CHALLENGER).version) == "1"


def test_the_champion_is_rescored_only_on_folds_after_its_training_ended(
    client, settings, features, booster, register, elsewhere
):
    register(tags={registry.TAG_TRAIN_END: str(AS_OF_DATES[0].date())}, alias=registry.CHAMPION)
    ndcg = champion_fold_ndcg(features, folds_on(AS_OF_DATES), settings, client)
    latest = features[features["as_of_date"] == AS_OF_DATES[1]]
    expected = fold_metrics(latest, {"model": predict(booster, latest)}, settings)[NDCG]
    assert list(ndcg.index) == [AS_OF_DATES[1]]  # the first fold is in its own training data
    assert ndcg.iloc[0] == pytest.approx(expected)
    assert not elsewhere.used


def test_its_recorded_walk_forward_ndcg_stands_in_when_no_fold_is_fresher(
    client, settings, features, register
):
    recorded = {"2021-05-31": 0.41, "2021-06-30": 0.52}
    tags = {registry.TAG_TRAIN_END: "2021-12-31", registry.TAG_WALK_FORWARD_NDCG: json.dumps(recorded)}
    register(tags=tags, alias=registry.CHAMPION)
    ndcg = champion_fold_ndcg(features, folds_on(AS_OF_DATES), settings, client)
    assert ndcg.to_dict() == {pd.Timestamp(k): v for k, v in recorded.items()}
