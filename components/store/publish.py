"""Publish the feature table: register the Feast definitions, fill the online store, rebuild retrieval."""

from __future__ import annotations

import logging

from components.config.feast import feature_store
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.store.feast_io import latest_as_of, load_latest_online
from components.store.retrieval import write_retrieval_index
from feature_repo.store import apply_definitions

logger = logging.getLogger(__name__)


def publish_features(layout: DataLayout, settings: Settings) -> dict:
    """`feast apply`, load the latest as-of date online, and write the retrieval index.

    The online load writes what `feast materialize` would (`components.store.online_load`), faster.

    Returns:
        The latest as-of date (ISO), the number of retrieval candidates, the accounts loaded online
        and how many were written (Redis keeps a stored row that is newer).
    """
    store = feature_store(settings)
    apply_definitions(store)
    latest = latest_as_of(layout)
    logger.info("loading the features of %s into the online store", latest.date())
    online = load_latest_online(store, layout, latest)
    candidates = write_retrieval_index(layout, settings)
    logger.info("retrieval index: %d candidates", candidates)
    return {
        "latest_as_of": str(latest.date()),
        "candidates": int(candidates),
        "online_accounts": online.accounts,
        "online_written": online.written,
    }
