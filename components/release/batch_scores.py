"""The contract's `scores/` table: the feed's ordering key for every account at every scored date."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow.dataset
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from components.config import registry
from components.config.feast import feature_store
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.config.tracking import load_booster
from components.errors import require_columns
from components.release.champion import version_by_alias
from components.release.training import predictions_path
from components.scoring.finalize import COLUMNS as FINAL_COLUMNS
from components.scoring.finalize import (
    SCORING_FEATURES,
    ScoringConstants,
    finalize_scores,
    fit_scoring_constants,
)
from components.store.feast_io import historical_features, latest_as_of, read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

# finalize's columns, with the as-of date after the account
COLUMNS = [ENTITY_KEY, EVENT_TIMESTAMP, *(column for column in FINAL_COLUMNS if column != ENTITY_KEY)]


def write_scores(layout: DataLayout, settings: Settings, client: MlflowClient, version: str) -> dict:
    """Score each walk-forward test date (out of sample) and the latest date (with the served model).

    Args:
        layout: The data root: features/, the walk-forward predictions, and where scores/ goes.
        settings: The run's settings.
        client: The MLflow client of the registry.
        version: The registered version the feed serves (see `serving_version`).

    Returns:
        Rows per as-of date, and which model version scored the latest date.
    """
    folds = walk_forward_scores(layout, settings)
    latest = latest_scores(layout, settings, client, version)
    scores = pd.concat([folds[~folds[EVENT_TIMESTAMP].isin(latest[EVENT_TIMESTAMP])], latest])
    scores[EVENT_TIMESTAMP] = pd.to_datetime(scores[EVENT_TIMESTAMP]).dt.date
    if layout.scores.exists():
        shutil.rmtree(layout.scores)
    layout.scores.mkdir(parents=True)
    scores[COLUMNS].to_parquet(layout.scores / "part-0.parquet", index=False)
    per_date = scores.groupby(EVENT_TIMESTAMP).size()
    return {
        "rows_per_date": {str(k): int(v) for k, v in per_date.items()},
        "latest_model_version": str(version),
    }


def walk_forward_scores(layout: DataLayout, settings: Settings) -> pd.DataFrame:
    """Final scores of each test date from its fold's out-of-sample predictions.

    Fold models are not registered, so each test date's scoring constants are fitted on that date's
    out-of-sample raw scores (`fit_scoring_constants`: no label is used); the shrinkage prior is then
    the classic empirical-Bayes one, estimated from the cross-section it shrinks.
    """
    predictions = pd.read_parquet(predictions_path(layout))
    rows = predictions[[ENTITY_KEY, EVENT_TIMESTAMP, "raw_score"]].merge(
        scoring_features(layout), on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left", validate="one_to_one"
    )
    frames = []
    for as_of, day in rows.groupby(EVENT_TIMESTAMP):
        constants = fit_scoring_constants(
            day,
            day["raw_score"],
            min_track_record_days=settings.min_track_record_days,
            concentration_penalty=settings.concentration_penalty,
        )
        final = finalize_scores(day, day["raw_score"], constants=constants)
        frames.append(final.assign(**{EVENT_TIMESTAMP: as_of}))
    return pd.concat(frames, ignore_index=True)


def scoring_features(layout: DataLayout) -> pd.DataFrame:
    """The columns of ``features/`` that `finalize_scores` needs, by account and as-of date.

    Raises:
        DataError: The feature table lacks some of them (naming them).
    """
    columns = pyarrow.dataset.dataset(layout.features).schema.names
    require_columns(columns, SCORING_FEATURES, f"the feature table {layout.features}, which scoring reads,")
    return read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP, *SCORING_FEATURES])


def serving_version(client: MlflowClient, model_name: str) -> ModelVersion:
    """The version the feed serves: the champion, or the challenger while there is no champion."""
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        version = version_by_alias(client, model_name, alias)
        if version is not None:
            return version
    raise RuntimeError(f"model '{model_name}' has neither a champion nor a challenger: train first")


def latest_scores(layout: DataLayout, settings: Settings, client: MlflowClient, version: str) -> pd.DataFrame:
    """Scores of every account at the latest as-of date, with model `version` and Feast's features."""
    booster = load_booster(client, settings.model_name, version)
    latest = latest_as_of(layout)
    keys = read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP])
    rows = historical_features(
        feature_store(settings), keys[keys[EVENT_TIMESTAMP] == latest], settings.feature_service
    )
    try:
        constants = ScoringConstants.from_tags(client.get_model_version(settings.model_name, version).tags)
    except ValueError as e:
        raise RuntimeError(f"model version {settings.model_name}/{version} cannot score: {e}") from e
    final = finalize_scores(rows, booster.predict(rows[booster.feature_name()]), constants=constants)
    return final.assign(**{EVENT_TIMESTAMP: latest})
