"""What the feed showed at each window, and what the served model was trained on.

A window is an as-of date the feed served. The record of a window is, in this order of preference:

1. the serving prediction log (``<data root>/predictions/date=*/``, written by the KServe transformer):
   the accounts the model's arms showed, in the order they were shown;
2. the batch ``scores/`` table, the record of what the feed would show (every account of a scored date);
3. for an as-of date with features but neither (the features were refreshed, no feed was logged), the
   served model's scores of that date, computed as the batch scores are.

Monitoring never imports the servers: the prediction log is read from its files, with its schema written
down here (`PREDICTION_LOG_SCHEMA`, the schema its writer uses too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset
from mlflow import MlflowClient

from components.config import registry
from components.config.feast import feature_store
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.config.tracking import load_booster
from components.errors import DataError
from components.release.batch_scores import serving_version
from components.scoring.finalize import ScoringConstants, finalize_scores, rank_order
from components.scoring.prediction_log import PREDICTION_LOG_PARTS, PREDICTION_LOG_SCHEMA
from components.store.feast_io import historical_features, read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

logger = logging.getLogger(__name__)

MODEL_ARMS = ("treatment", "none")  # the arms that show the model's ranking (control: the heuristic)
SOURCES = ("prediction_log", "scores", "scored")
RECORD_COLUMNS = [EVENT_TIMESTAMP, ENTITY_KEY, "score", "rank", "source"]


@dataclass(frozen=True)
class ServedModel:
    """The registered version the feed serves and the as-of dates it was trained on.

    Attributes:
        name: Registered model name.
        version: Registered version.
        run_id: The MLflow run that trained it.
        label: The label it learned (its run's ``label`` parameter).
        train_start: First as-of date of its training rows.
        train_end: Last as-of date of its training rows: windows after it are out of its sample.
        created: When it was registered (UTC, naive).
    """

    name: str
    version: str
    run_id: str | None
    label: str | None
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    created: pd.Timestamp

    @classmethod
    def from_registry(
        cls, client: MlflowClient, settings: Settings, features: pd.DataFrame, version: str | None = None
    ) -> ServedModel:
        """The served version (or `version`), its training window from its tags and run parameters.

        A version without a ``train_end`` tag counts as trained up to the latest date of `features`, and
        one without a recorded start on the `train_months` dates before its end.
        """
        found = (
            serving_version(client, settings.model_name)
            if version is None
            else client.get_model_version(settings.model_name, version)
        )
        params = client.get_run(found.run_id).data.params if found.run_id else {}
        dates = pd.DatetimeIndex(sorted(features[EVENT_TIMESTAMP].unique()))
        train_end = pd.Timestamp(found.tags.get(registry.TAG_TRAIN_END, dates.max()))
        trained = dates[dates <= train_end][-settings.train_months :]
        start = params.get("final_train_start")
        return cls(
            name=settings.model_name,
            version=str(found.version),
            run_id=found.run_id,
            label=params.get("label"),
            train_start=pd.Timestamp(start) if start else (trained.min() if len(trained) else train_end),
            train_end=train_end,
            created=pd.Timestamp(found.creation_timestamp, unit="ms"),
        )

    def trained_on(self, dates: pd.Series) -> pd.Series:
        """Which of `dates` are its training dates."""
        return (dates >= self.train_start) & (dates <= self.train_end)


def read_prediction_log(directory: Path) -> pd.DataFrame:
    """The record of the logged feeds: per as-of date, each account the model's arms showed.

    Degraded feeds (served without the model) and the control arm (the heuristic) are left out. An
    account's ``score`` is its mean logged score and ``rank`` its place when the accounts of a date are
    ordered by their mean shown rank.

    Returns:
        The `RECORD_COLUMNS` (source ``prediction_log``); no rows when nothing is logged.
    """
    parts = sorted(Path(directory).glob(PREDICTION_LOG_PARTS))
    if not parts:
        return empty_record()
    log = (
        pyarrow.dataset.dataset(parts, schema=PREDICTION_LOG_SCHEMA, format="parquet").to_table().to_pandas()
    )
    log = log[log["arm"].isin(MODEL_ARMS) & ~log["degraded"] & log["as_of_date"].notna()]
    shown = log.groupby([EVENT_TIMESTAMP, ENTITY_KEY], as_index=False).agg(
        score=("score", "mean"), mean_rank=("rank", "mean")
    )
    shown[EVENT_TIMESTAMP] = pd.to_datetime(shown[EVENT_TIMESTAMP])
    shown = shown.sort_values([EVENT_TIMESTAMP, "mean_rank", ENTITY_KEY], kind="mergesort")
    shown["rank"] = shown.groupby(EVENT_TIMESTAMP).cumcount() + 1
    return shown.assign(source="prediction_log")[RECORD_COLUMNS].reset_index(drop=True)


def read_scores(layout: DataLayout) -> pd.DataFrame:
    """The record of the batch ``scores/`` table: every account of each scored date, ranked by score."""
    if not layout.scores.exists():
        return empty_record()
    scores = read_point_in_time_table(layout.scores, [ENTITY_KEY, EVENT_TIMESTAMP, "score"])
    scores[EVENT_TIMESTAMP] = pd.to_datetime(scores[EVENT_TIMESTAMP])
    return ranked(scores, "scores")


def ranked(scores: pd.DataFrame, source: str) -> pd.DataFrame:
    """`scores` (account_id, as_of_date, score) in the feed's order per date, with each rank.

    Example:
        >>> day = pd.Timestamp("2021-06-30")
        >>> scores = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of_date": [day] * 3,
        ...     "score": [0.1, 0.3, 0.3]})
        >>> ranked(scores, "scores")[["account_id", "rank"]].values.tolist()
        [['b', 1], ['c', 2], ['a', 3]]
    """
    frames = [
        rank_order(day[[ENTITY_KEY, "score"]]).assign(**{EVENT_TIMESTAMP: as_of})
        for as_of, day in scores.groupby(EVENT_TIMESTAMP)
    ]
    if not frames:
        return empty_record()
    record = pd.concat(frames, ignore_index=True)
    record["rank"] = record.groupby(EVENT_TIMESTAMP).cumcount() + 1
    return record.assign(source=source)[RECORD_COLUMNS]


def empty_record() -> pd.DataFrame:
    """A record with no rows."""
    return pd.DataFrame(
        {
            EVENT_TIMESTAMP: pd.Series(dtype="datetime64[ns]"),
            ENTITY_KEY: pd.Series(dtype="string"),
            "score": pd.Series(dtype=float),
            "rank": pd.Series(dtype="int64"),
            "source": pd.Series(dtype="string"),
        }
    )


def score_dates(
    settings: Settings, client: MlflowClient, served: ServedModel, dates: list[pd.Timestamp]
) -> pd.DataFrame:
    """The served model's final scores of every account at `dates`, as batch ``scores/`` computes them.

    Returns:
        account_id, as_of_date and score (empty for no dates).

    Raises:
        DataError: The version lacks its scoring constants.
    """
    if not dates:
        return pd.DataFrame({ENTITY_KEY: [], EVENT_TIMESTAMP: pd.Series(dtype="datetime64[ns]"), "score": []})
    booster = load_booster(client, served.name, served.version)
    try:
        constants = ScoringConstants.from_tags(client.get_model_version(served.name, served.version).tags)
    except ValueError as e:
        raise DataError(f"model version {served.name}/{served.version} cannot score: {e}") from e
    keys = read_point_in_time_table(settings.layout.features, [ENTITY_KEY, EVENT_TIMESTAMP])
    rows = historical_features(
        feature_store(settings), keys[keys[EVENT_TIMESTAMP].isin(dates)], settings.feature_service
    )
    frames = []
    for as_of, day in rows.groupby(EVENT_TIMESTAMP):
        final = finalize_scores(day, booster.predict(day[booster.feature_name()]), constants=constants)
        frames.append(final[[ENTITY_KEY, "score"]].assign(**{EVENT_TIMESTAMP: as_of}))
    return pd.concat(frames, ignore_index=True)


def feed_record(
    settings: Settings, client: MlflowClient, served: ServedModel, feature_dates: list[pd.Timestamp]
) -> pd.DataFrame:
    """Every window's record, from the prediction log, else ``scores/``, else scored now (see the module).

    The feature dates after the served model's training end are its windows (the latest feature date
    when none follows it): those neither logged nor in ``scores/`` are scored with the served model.

    Args:
        settings: The deployment's settings (data root, feature service).
        client: The MLflow client of the registry.
        served: The model the feed serves.
        feature_dates: The as-of dates of the feature table.

    Returns:
        The `RECORD_COLUMNS`, sorted by as-of date and rank.
    """
    logged = read_prediction_log(settings.layout.prediction_log)
    scores = read_scores(settings.layout)
    scores = scores[~scores[EVENT_TIMESTAMP].isin(logged[EVENT_TIMESTAMP])]
    recorded = set(logged[EVENT_TIMESTAMP]) | set(scores[EVENT_TIMESTAMP])
    served_dates = [d for d in feature_dates if d > served.train_end] or feature_dates[-1:]
    missing = [d for d in served_dates if d not in recorded]
    if missing:
        logger.info("scoring %d window(s) no feed recorded with model v%s", len(missing), served.version)
    scored = ranked(score_dates(settings, client, served, missing), "scored")
    parts = [part for part in (logged, scores, scored) if not part.empty]
    if not parts:
        raise DataError("no feed to monitor: no prediction log, no scores/ and no new features; run training")
    record = pd.concat(parts, ignore_index=True)
    return record.sort_values([EVENT_TIMESTAMP, "rank"], kind="mergesort").reset_index(drop=True)


def windows(record: pd.DataFrame, served: ServedModel) -> list[pd.Timestamp]:
    """The windows the served model served: the record's dates after its training end.

    When no date follows its training end (a model trained on the latest data), the latest date is the
    one window.

    Example:
        >>> served = ServedModel("m", "1", None, None, pd.Timestamp("2021-01-31"), pd.Timestamp("2021-03-31"),
        ...     pd.Timestamp("2021-04-01"))
        >>> record = pd.DataFrame({"as_of_date": pd.to_datetime(["2021-03-31", "2021-04-30", "2021-05-31"])})
        >>> [d.date().isoformat() for d in windows(record, served)]
        ['2021-04-30', '2021-05-31']
    """
    dates = sorted(pd.to_datetime(record[EVENT_TIMESTAMP]).unique())
    after = [pd.Timestamp(d) for d in dates if d > served.train_end]
    return after or [pd.Timestamp(dates[-1])]
