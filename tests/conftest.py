"""Fixtures shared across packages: the tiny served world (Feast, a champion, the index)."""

from __future__ import annotations

import pytest

from tests.serving_world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("serving-world"), n_accounts=50, top_k=10)
