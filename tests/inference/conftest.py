"""Fixtures of the serving tests: one tiny world per session (features, Feast, MLflow champion, index)."""

from __future__ import annotations

import pytest

from components.config.registry import model_uri
from inference.predictor import RankingPredictor
from tests.inference.world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("serving-world"), n_accounts=50, top_k=10)


@pytest.fixture(scope="module")
def predictor(world) -> RankingPredictor:
    """The ranking predictor, loaded from the world's champion."""
    model = RankingPredictor(
        world.settings.model_name, model_uri(world.settings.model_name), world.settings.mlflow_uri
    )
    model.load()
    return model
