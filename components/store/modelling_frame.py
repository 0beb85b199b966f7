"""The modelling frame: every (account, as-of date) with Feast features, its label and, if given, skill."""

from __future__ import annotations

import pandas as pd
from feast import FeatureStore

from components.config.layout import DataLayout
from components.contract.tables import INDEX_SYMBOL
from components.labels import LABELS, add_excess_labels
from components.store.feast_io import historical_features, read_point_in_time_table
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP


def spx_closes(layout: DataLayout) -> pd.Series:
    """S&P 500 closes by date, from the clean market table."""
    market = pd.read_parquet(layout.clean("market"), filters=[("symbol", "==", INDEX_SYMBOL)])
    return market.set_index(pd.to_datetime(market["date"]))["close"].sort_index()


def modelling_frame(layout: DataLayout, store: FeatureStore, feature_service: str) -> pd.DataFrame:
    """Features through Feast's point-in-time join, with labels (null where not yet known) and skill.

    Every account-date of the feature table is kept, labelled or not: the unlabelled latest date is
    scored, and walk-forward test dates are scored for every account seen there.
    """
    keys = read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP])
    labels = read_point_in_time_table(layout.labels, [ENTITY_KEY, EVENT_TIMESTAMP, *LABELS])
    rows = keys.merge(labels, on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left")
    frame = add_excess_labels(historical_features(store, rows, feature_service), spx_closes(layout))
    truth = layout.clean("truth")
    if truth.exists():
        skill = pd.read_parquet(truth, columns=[ENTITY_KEY, "skill"])
        frame = frame.merge(skill, on=ENTITY_KEY, how="left")
    return frame
