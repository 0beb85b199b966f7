"""The contract's `scores/` table: the feed's ordering key for every account at every scored date."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from components import registry
from components.feature_store_ops import historical_features, latest_as_of, read_point_in_time_table
from components.layout import DataLayout
from components.scoring import STATUS_ESTABLISHED, finalize_scores
from components.settings import Settings
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from feature_repo.store import feature_store

COLUMNS = [ENTITY_KEY, EVENT_TIMESTAMP, "score", "confidence", "status"]


def write_scores(layout: DataLayout, settings: Settings) -> dict:
    """Score each walk-forward test date (out of sample) and the latest date (the served model).

    Returns:
        Rows per as-of date, and which model version scored the latest date.
    """
    folds = walk_forward_scores(layout, settings)
    latest, version = latest_scores(layout, settings)
    scores = pd.concat([folds[~folds[EVENT_TIMESTAMP].isin(latest[EVENT_TIMESTAMP])], latest])
    scores[EVENT_TIMESTAMP] = pd.to_datetime(scores[EVENT_TIMESTAMP]).dt.date
    if layout.scores.exists():
        shutil.rmtree(layout.scores)
    layout.scores.mkdir(parents=True)
    scores[COLUMNS].to_parquet(layout.scores / "part-0.parquet", index=False)
    per_date = scores.groupby(EVENT_TIMESTAMP).size()
    return {"rows_per_date": {str(k): int(v) for k, v in per_date.items()}, "latest_model_version": version}


def walk_forward_scores(layout: DataLayout, settings: Settings) -> pd.DataFrame:
    """Final scores of each test date from its fold's out-of-sample predictions.

    A fold model's neutral score is the median of its raw scores over established accounts that day.
    """
    predictions = pd.read_parquet(layout.root / "predictions" / "walk_forward.parquet")
    frames = []
    for as_of, day in predictions.groupby(EVENT_TIMESTAMP):
        final = finalize_scores(
            day[ENTITY_KEY],
            day["raw_score"],
            day["track_record_days"],
            min_track_record_days=settings.min_track_record_days,
            neutral_score=0.0,
        )
        neutral = float(np.median(final.loc[final["status"] == STATUS_ESTABLISHED, "score"]))
        final.loc[final["status"] != STATUS_ESTABLISHED, "score"] = neutral
        frames.append(final.assign(**{EVENT_TIMESTAMP: as_of}))
    return pd.concat(frames, ignore_index=True)


def serving_version(settings: Settings):
    """The version the feed serves: the champion, or the challenger while there is no champion."""
    client = MlflowClient()
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        try:
            return client.get_model_version_by_alias(settings.model_name, alias)
        except mlflow.exceptions.MlflowException:
            continue
    raise RuntimeError(f"model '{settings.model_name}' has neither a champion nor a challenger: train first")


def latest_scores(layout: DataLayout, settings: Settings) -> tuple[pd.DataFrame, str]:
    """Scores of every account at the latest as-of date, with the served model and Feast's features."""
    mlflow.set_tracking_uri(settings.mlflow_uri)
    version = serving_version(settings)
    booster = mlflow.lightgbm.load_model(f"models:/{settings.model_name}/{version.version}")
    latest = latest_as_of(layout)
    keys = read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP])
    rows = historical_features(feature_store(settings), keys[keys[EVENT_TIMESTAMP] == latest], settings.feature_service)
    final = finalize_scores(
        rows[ENTITY_KEY],
        booster.predict(rows[booster.feature_name()]),
        rows["track_record_days"],
        min_track_record_days=settings.min_track_record_days,
        neutral_score=float(version.tags[registry.TAG_NEUTRAL_SCORE]),
    )
    return final.assign(**{EVENT_TIMESTAMP: latest}), str(version.version)
