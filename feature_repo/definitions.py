"""Feast declarations, in dependency order: entity -> source -> feature view -> feature service.

The source path is relative: Feast resolves it against the store's ``repo_path``, which skillrank
sets to the data root (see `feature_repo.store`), so the same declarations serve every data root.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES

account = Entity(
    name="account",
    join_keys=[ENTITY_KEY],
    value_type=ValueType.STRING,
    description="An investor account on the platform.",
)

account_monthly_source = FileSource(
    name="account_monthly_source",
    path="features",
    timestamp_field=EVENT_TIMESTAMP,
    description="Point-in-time account features written by the Spark feature job, one row per month-end.",
)

# A feature is valid until the next month-end is computed, plus slack for a late run.
account_monthly_features = FeatureView(
    name="account_monthly_features",
    entities=[account],
    ttl=timedelta(days=45),
    schema=[Field(name=name, dtype=Float64, description=text) for name, text in FEATURES.items()],
    source=account_monthly_source,
    online=True,
    description="Risk, return, diversification and activity of an account at a month-end.",
    tags={"team": "skillrank", "grain": "account-month"},
)

ranker_v1 = FeatureService(
    name="ranker_v1",
    features=[account_monthly_features],
    description="Features the ranking model is trained on and served with.",
)

ALL_DEFINITIONS = [account, account_monthly_source, account_monthly_features, ranker_v1]
