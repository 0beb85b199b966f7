"""Fixtures of the serving tests: one tiny world per session (features, Feast, MLflow champion, index)."""

from __future__ import annotations

import pytest

from tests.inference.world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("serving-world"), n_accounts=50, top_k=10)
