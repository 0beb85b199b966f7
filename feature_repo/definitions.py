"""Feast declarations, in dependency order: entity -> source -> feature view -> feature services.

One feature service per consumer, each named for it and versioned: the ranking model's inputs, the
scoring inputs, retrieval, the feed a model on the ranker's inputs needs, and the whole view the
training frame reads. Their name lists live once in `feature_repo.feature_schema`; code that needs a
service's features reads them from the service (`service_features`), never from a copy.

Fresh features come apart, through a push source: the streaming job
(`components.features.streaming`) pushes each account's intraday activity and return since its last
daily snapshot into ``account_intraday_features``, which only the online store holds; the
``intraday_v1`` service serves it. `intraday_definitions` lists what the streaming job registers.

The source reads ``features/`` of one data root by absolute path, never relative to the working
directory. The module-level source (what the ``feast`` CLI registers) reads the data root in
``SKILLRANK_DATA_ROOT``, as ``feature_store.yaml`` does; skillrank's own stores declare the source
of their data root with `features_source` (see `feature_repo.store.definitions`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float64, String

from feature_repo.feature_schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURES,
    FEED_INPUTS,
    INTRADAY_FEATURES,
    INTRADAY_TIMESTAMP,
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
    return account_view(
        "account_monthly_features",
        timedelta(days=45),
        FEATURES,
        source,
        "Risk, return, diversification and activity of an account at a month-end.",
        grain="account-month",
    )


def account_view(
    name: str,
    ttl: timedelta,
    features: dict[str, str],
    source: FileSource | PushSource,
    description: str,
    grain: str,
    extra_fields: list[Field] | None = None,
) -> FeatureView:
    """An online feature view of the account entity: one Float64 field per feature, described."""
    return FeatureView(
        name=name,
        entities=[account],
        ttl=ttl,
        schema=(extra_fields or [])
        + [Field(name=feature, dtype=Float64, description=text) for feature, text in features.items()],
        source=source,
        online=True,
        description=description,
        tags=TAGS | {"grain": grain},
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


def intraday_source(data_root: str | Path) -> FileSource:
    """The batch source behind the intraday push source: ``intraday/`` under `data_root`, by absolute path."""
    return FileSource(
        name="account_intraday_batch_source",
        path=str(Path(data_root).resolve() / "intraday"),
        timestamp_field=INTRADAY_TIMESTAMP,
        description="Intraday account features as of their latest event (the push source's batch side).",
    )


def intraday_push_source(data_root: str | Path) -> PushSource:
    """Where the streaming job pushes each account's intraday features."""
    return PushSource(
        name="account_intraday_push",
        batch_source=intraday_source(data_root),
        description="Intraday activity and return since the last daily snapshot, from the streaming job.",
        tags=TAGS,
    )


def intraday_view(source: PushSource) -> FeatureView:
    """The account's intraday features, pushed from `source` into the online store."""
    # Valid for the trading day they describe; the next daily batch supersedes them.
    return account_view(
        "account_intraday_features",
        timedelta(days=1),
        INTRADAY_FEATURES,
        source,
        "What an account did since its last daily snapshot: trades, notional, equity, return.",
        grain="account-intraday",
        extra_fields=[Field(name=ENTITY_KEY, dtype=String)],
    )


account_intraday_push = intraday_push_source(os.environ.get(DATA_ROOT_ENV, DEFAULT_DATA_ROOT))

account_intraday_features = intraday_view(account_intraday_push)

intraday_v1 = FeatureService(
    name="intraday_v1",
    features=[account_intraday_features],
    description="The fresh intraday features the transformer's post-processing reads where they exist.",
    tags=TAGS | {"consumer": "transformer"},
)


def intraday_definitions(data_root: str | Path) -> list:
    """The entity, the intraday push source of `data_root`, its view and service: what the streaming
    job registers (the daily declarations are `feature_repo.store.definitions`)."""
    push = intraday_push_source(data_root)
    return [account, push, intraday_view(push), intraday_v1]
