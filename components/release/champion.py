"""The current champion, read from the registry and re-scored on the challenger's test folds."""

from __future__ import annotations

import json

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from components.config import registry
from components.config.settings import Settings
from components.config.tracking import load_booster
from components.ranking.learner import NDCG_K, WalkForwardResult, fold_metrics, predict
from feature_repo.feature_schema import EVENT_TIMESTAMP


def version_by_alias(client: MlflowClient, model_name: str, alias: str) -> ModelVersion | None:
    """The version of `model_name` behind `alias`, or None if the alias (or the model) does not exist yet."""
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def champion_version(client: MlflowClient, model_name: str) -> ModelVersion | None:
    """The version of `model_name` behind the `champion` alias, or None if there is no champion yet."""
    return version_by_alias(client, model_name, registry.CHAMPION)


def champion_fold_ndcg(
    frame: pd.DataFrame,
    result: WalkForwardResult,
    settings: Settings,
    client: MlflowClient,
    target: str = "label",
) -> pd.Series | None:
    """Per-fold NDCG@100 of the champion against `target` (label or skill) by test date, on the
    challenger's folds; None without a champion.

    The champion is re-scored only on test dates after its own training data ended (earlier folds
    would flatter it with in-sample predictions). When no fold is that recent (the same data run
    again), its own recorded walk-forward NDCG stands in, fold for fold.
    """
    version = champion_version(client, settings.model_name)
    if version is None:
        return None
    train_end = pd.Timestamp(version.tags.get(registry.TAG_TRAIN_END, "1900-01-01"))
    booster = load_booster(client, settings.model_name, version.version)
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
