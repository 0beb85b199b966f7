"""Publish features to Feast and read training sets back by its point-in-time join (never a side path:
the fast join of file-backed views is computed from Feast's registered definitions and tested equal)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from feast import FeatureService, FeatureStore

from components.config.layout import DataLayout
from components.console import progress
from components.errors import DataError
from components.store.online_load import OnlineLoad, load_frame_latest
from components.store.point_in_time import point_in_time_join
from feature_repo.definitions import account_monthly_features, service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP


def read_point_in_time_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read the features or labels table with ``as_of_date`` as naive UTC timestamps.

    Spark writes instants (tz-aware UTC); pandas code here compares naive dates throughout.

    Raises:
        DataError: There is no table at `path`.
    """
    if not Path(path).exists():
        raise DataError(f"no table at {path}: run the feature job first (skillrank run)")
    frame = pd.read_parquet(path, columns=columns)
    if isinstance(frame[EVENT_TIMESTAMP].dtype, pd.DatetimeTZDtype):
        frame[EVENT_TIMESTAMP] = frame[EVENT_TIMESTAMP].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def latest_as_of(layout: DataLayout) -> pd.Timestamp:
    """The newest as-of date in the feature table."""
    return pd.Timestamp(read_point_in_time_table(layout.features, [EVENT_TIMESTAMP])[EVENT_TIMESTAMP].max())


def materialize_latest(store: FeatureStore, latest: pd.Timestamp) -> None:
    """Load the values valid at `latest` into the online store (older rows are past their ttl) with
    Feast's `materialize`: the reference `load_latest_online` is tested against (1.6k accounts/s)."""
    start = (latest - account_monthly_features.ttl).tz_localize("UTC")
    end = (latest + pd.Timedelta(days=1)).tz_localize("UTC")
    store.materialize(start_date=start.to_pydatetime(), end_date=end.to_pydatetime())


def load_latest_online(store: FeatureStore, layout: DataLayout, latest: pd.Timestamp) -> OnlineLoad:
    """What `materialize_latest` loads, written by `components.store.online_load` (the same rows,
    10-20x faster): per account its newest row of the feature table within the view's ttl of `latest`.

    Raises:
        DataError: A row without an account or an as-of date, or two rows of one account at its newest date.
    """
    columns = [field.name for field in store.get_feature_view(account_monthly_features.name).features]
    frame = read_point_in_time_table(layout.features, [ENTITY_KEY, EVENT_TIMESTAMP, *columns])
    return load_frame_latest(store, account_monthly_features.name, frame, latest)


# Entity rows per point-in-time join. Feast's file offline store joins every entity row with every
# feature row of its account before it filters by time, so its memory grows with the square of the
# history: 700k rows (20k accounts x 6 years) in one call peaked at 19 GB here, 6 months at 2.8 GB.
# Whole as-of dates go into each call, in order, until this many rows.
HISTORICAL_CHUNK_ROWS = 150_000


def date_chunks(dates: pd.Series, max_rows: int) -> list[list[pd.Timestamp]]:
    """Consecutive as-of dates grouped so that each group holds at most `max_rows` rows (a date with
    more rows than that is a group of its own).

    Example:
        >>> dates = pd.Series(pd.to_datetime(["2020-01-31"] * 2 + ["2020-02-29"] * 2 + ["2020-03-31"]))
        >>> [[d.month for d in group] for group in date_chunks(dates, 4)]
        [[1, 2], [3]]
    """
    groups, current, rows = [], [], 0
    for date, count in dates.value_counts().sort_index().items():
        if current and rows + count > max_rows:
            groups.append(current)
            current, rows = [], 0
        current.append(date)
        rows += count
    return groups + [current] if current else groups


def feast_historical_features(
    store: FeatureStore, entity_rows: pd.DataFrame, service: FeatureService
) -> pd.DataFrame:
    """Feast's `get_historical_features` of `service` onto `entity_rows` (naive ``as_of_date``), in
    chunks of whole as-of dates (`HISTORICAL_CHUNK_ROWS`), which bounds its memory and leaves its
    result unchanged; ``as_of_date`` comes back naive."""
    parts = []
    chunks = date_chunks(entity_rows[EVENT_TIMESTAMP], HISTORICAL_CHUNK_ROWS)
    for dates in progress(chunks, f"point-in-time join of {service.name}", unit="chunk"):
        entity_df = entity_rows[entity_rows[EVENT_TIMESTAMP].isin(dates)]
        entity_df = entity_df.rename(columns={EVENT_TIMESTAMP: "event_timestamp"})
        entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
        parts.append(store.get_historical_features(entity_df=entity_df, features=service).to_df())
    frame = pd.concat(parts, ignore_index=True).rename(columns={"event_timestamp": EVENT_TIMESTAMP})
    frame[EVENT_TIMESTAMP] = frame[EVENT_TIMESTAMP].dt.tz_localize(None)
    return frame


def historical_features(store: FeatureStore, entity_rows: pd.DataFrame, feature_service: str) -> pd.DataFrame:
    """Point-in-time join of the feature service onto (account_id, as_of_date) rows.

    Extra columns of `entity_rows` (labels) are carried through. Returns the rows with
    ``as_of_date`` as naive timestamps and one column per feature of the service, sorted by date and
    account. File-backed views (the default and the cluster's stores) are joined by
    `components.store.point_in_time`, Feast's join computed in linear time and memory from the
    registered definitions and tested equal to it; any other view by `feast_historical_features`.

    Raises:
        DataError: The registered service did not return all its features (a stale registry).
    """
    service = store.get_feature_service(feature_service)
    frame = point_in_time_join(store, entity_rows, service)
    if frame is None:  # a view that is not file-backed: Feast's own join
        frame = feast_historical_features(store, entity_rows, service)
    missing = [name for name in service_features(service) if name not in frame.columns]
    if missing:
        raise DataError(
            f"feature service '{feature_service}' did not return {missing}: publish the features again"
        )
    return frame.sort_values([EVENT_TIMESTAMP, ENTITY_KEY]).reset_index(drop=True)
