"""Feast declarations, in dependency order: entity -> source -> feature view -> feature services.

One feature service per consumer, each named for it and versioned: the ranking model's inputs, the
scoring inputs, retrieval, the feed a model on the ranker's inputs needs, and the whole view the
training frame reads. Their name lists live once in `feature_repo.feature_schema`; code that needs a
service's features reads them from the service (`service_features`), never from a copy.

The source reads ``features/`` of one data root by absolute path, never relative to the working
directory. The module-level source (what the ``feast`` CLI registers) reads the data root in
``SKILLRANK_DATA_ROOT``, as ``feature_store.yaml`` does; skillrank's own stores declare the source
of their data root with `features_source` (see `feature_repo.store.definitions`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

from feature_repo.feature_schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURES,
    FEED_INPUTS,
    RANKER_INPUTS,
    RETRIEVAL_INPUTS,
    SCORING_INPUTS,
)

DATA_ROOT_ENV = "SKILLRANK_DATA_ROOT"
DEFAULT_DATA_ROOT = ".skillrank"
TAGS = {"team": "skillrank"}

account = Entity(
    name="account",
    join_keys=[ENTITY_KEY],
    value_type=ValueType.STRING,
    description="An investor account on the platform.",
)


def features_source(data_root: str | Path) -> FileSource:
    """The ``features/`` table under `data_root`, by absolute path."""
    return FileSource(
        name="account_monthly_source",
        path=str(Path(data_root).resolve() / "features"),
        timestamp_field=EVENT_TIMESTAMP,
        description="Point-in-time account features written by the Spark feature job, one row per month-end.",
    )


def features_view(source: FileSource) -> FeatureView:
    """The account features at a month-end, read from `source`."""
    # A feature is valid until the next month-end is computed, plus slack for a late run.
    return FeatureView(
        name="account_monthly_features",
        entities=[account],
        ttl=timedelta(days=45),
        schema=[Field(name=name, dtype=Float64, description=text) for name, text in FEATURES.items()],
        source=source,
        online=True,
        description="Risk, return, diversification and activity of an account at a month-end.",
        tags=TAGS | {"grain": "account-month"},
    )


account_monthly_source = features_source(os.environ.get(DATA_ROOT_ENV, DEFAULT_DATA_ROOT))

account_monthly_features = features_view(account_monthly_source)


def consumer_service(
    name: str, features: tuple[str, ...] | None, consumer: str, description: str
) -> FeatureService:
    """A versioned FeatureService of `account_monthly_features`: `features` in their order, or all (None)."""
    view = account_monthly_features if features is None else account_monthly_features[list(features)]
    return FeatureService(
        name=name, features=[view], description=description, tags=TAGS | {"consumer": consumer}
    )


ranker_v1 = consumer_service(
    "ranker_v1",
    RANKER_INPUTS,
    "ranker",
    "The ranking model's inputs, in its order: the evidence of a persistent edge.",
)
scoring_v1 = consumer_service(
    "scoring_v1",
    SCORING_INPUTS,
    "scoring",
    "What finalize_scores reads: track record, 12-month Sharpe and moments, concentration.",
)
retrieval_v1 = consumer_service(
    "retrieval_v1",
    RETRIEVAL_INPUTS,
    "retrieval",
    "What the retrieval index filters and orders by: activity, diversification, record, prior.",
)
feed_v1 = consumer_service(
    "feed_v1",
    FEED_INPUTS,
    "transformer",
    "What the feed reads per candidate for a model on ranker_v1: its inputs and scoring_v1's.",
)
training_v1 = consumer_service(
    "training_v1",
    None,
    "training",
    "Every feature: the training frame (learner, baselines, evaluation) and batch scoring.",
)

FEATURE_SERVICES = [ranker_v1, scoring_v1, retrieval_v1, feed_v1, training_v1]


def service_features(service: FeatureService) -> list[str]:
    """The names of the features `service` serves, in its order (from the declaration, no store needed).

    Example:
        >>> service_features(retrieval_v1)
        ['trade_count_12m', 'hhi', 'track_record_days', 'sharpe_tstat_inception']
    """
    return [feature.name for view in service.feature_view_projections for feature in view.features]
