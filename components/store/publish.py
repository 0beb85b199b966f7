"""Publish the feature table: register the Feast definitions, fill the online store, rebuild retrieval."""

from __future__ import annotations

import logging

from components.config.feast import feature_store
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.store.feast_io import latest_as_of, materialize_latest
from components.store.retrieval import write_retrieval_index
from feature_repo.store import apply_definitions

logger = logging.getLogger(__name__)


def publish_features(layout: DataLayout, settings: Settings) -> dict:
    """`feast apply`, materialise the latest as-of date online, and write the retrieval index.

    Returns:
        The latest as-of date (ISO) and the number of retrieval candidates.
    """
    store = feature_store(settings)
    apply_definitions(store)
    latest = latest_as_of(layout)
    logger.info("materialising the features of %s into the online store", latest.date())
    materialize_latest(store, latest)
    candidates = write_retrieval_index(layout, settings)
    logger.info("retrieval index: %d candidates", candidates)
    return {"latest_as_of": str(latest.date()), "candidates": int(candidates)}
