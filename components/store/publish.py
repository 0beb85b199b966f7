"""Publish the feature table: register the Feast definitions, fill the online store, rebuild retrieval."""

from __future__ import annotations

from components.config.layout import DataLayout
from components.config.settings import Settings
from components.store.feast_io import latest_as_of, materialize_latest
from components.store.retrieval import write_retrieval_index
from feature_repo.store import apply_definitions, feature_store


def publish_features(layout: DataLayout, settings: Settings) -> dict:
    """`feast apply`, materialise the latest as-of date online, and write the retrieval index."""
    store = feature_store(settings)
    apply_definitions(store)
    latest = latest_as_of(layout)
    materialize_latest(store, latest)
    candidates = write_retrieval_index(layout, settings)
    return {"latest_as_of": str(latest.date()), "candidates": int(candidates)}
