"""The local Spark session of the Spark label tests (one per test run, as the feature tests have)."""

from __future__ import annotations

import pytest

from components.features.spark import spark_session


@pytest.fixture(scope="session")
def spark():
    with spark_session("skillrank-test-labels", master="local[2]", shuffle_partitions=2) as session:
        yield session
