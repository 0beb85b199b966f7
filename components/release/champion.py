"""The current champion, read from the registry and re-scored on the challenger's test folds."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.ranking.learner import NDCG_K, WalkForwardResult, fold_metrics, predict
from feature_repo.feature_schema import EVENT_TIMESTAMP


def version_by_alias(settings: Settings, alias: str):
    """The model version behind `alias`, or None if the alias (or the model) does not exist yet."""
    try:
        return MlflowClient().get_model_version_by_alias(settings.model_name, alias)
    except MlflowException:
        return None


def champion_version(settings: Settings):
    """The model version behind the `champion` alias, or None if there is no champion yet."""
    return version_by_alias(settings, registry.CHAMPION)


def champion_fold_ndcg(
    frame: pd.DataFrame, result: WalkForwardResult, settings: Settings, target: str = "label"
) -> pd.Series | None:
    """Per-fold NDCG@100 of the champion against `target` (label or skill) by test date, on the
    challenger's folds; None without a champion.

    The champion is re-scored only on test dates after its own training data ended (earlier folds
    would flatter it with in-sample predictions). When no fold is that recent (the same data run
    again), its own recorded walk-forward NDCG stands in, fold for fold.
    """
    version = champion_version(settings)
    if version is None:
        return None
    train_end = pd.Timestamp(version.tags.get(registry.TAG_TRAIN_END, "1900-01-01"))
    booster = mlflow.lightgbm.load_model(registry.model_uri(settings.model_name))
    fresh = result.fold_metrics[result.fold_metrics["test_date"] > train_end]
    if len(fresh) and all(name in frame.columns for name in booster.feature_name()):
        scores = {}
        for test_date in fresh["test_date"]:
            test = frame[frame[EVENT_TIMESTAMP] == test_date]
            metrics = fold_metrics(test, {"model": predict(booster, test)}, settings)
            scores[test_date] = metrics[f"model_vs_{target}_ndcg_at_{NDCG_K}"]
        return pd.Series(scores, dtype=float)
    recorded = json.loads(version.tags.get(registry.TAG_WALK_FORWARD_NDCG, "{}"))
    return pd.Series({pd.Timestamp(k): v for k, v in recorded.items()}, dtype=float) if recorded else None
