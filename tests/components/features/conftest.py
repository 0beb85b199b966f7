"""Shared fixtures of the Spark feature-job tests: one local session and one build of the hand-made world."""

from __future__ import annotations

import pandas as pd
import pytest

from components.features import build_features
from components.features.spark import spark_session
from tests.feature_world import read_output, write_world


@pytest.fixture(scope="session")
def spark():
    with spark_session("skillrank-test-features", master="local[2]", shuffle_partitions=2) as session:
        yield session


@pytest.fixture(scope="session")
def built(spark, tmp_path_factory) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(counts, features, labels) of `tests.feature_world`, indexed by (account_id, as_of)."""
    layout = write_world(tmp_path_factory.mktemp("world"))
    counts = build_features(layout, spark)
    return counts, read_output(layout.features), read_output(layout.labels)
