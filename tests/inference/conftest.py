"""Fixtures of the serving tests: the predictor loaded from the shared world's champion."""

from __future__ import annotations

import pytest

from components.config.registry import model_uri
from inference.predictor import RankingPredictor


@pytest.fixture(scope="module")
def predictor(world) -> RankingPredictor:
    """The ranking predictor, loaded from the world's champion."""
    model = RankingPredictor(
        world.settings.model_name, model_uri(world.settings.model_name), world.settings.mlflow_uri
    )
    model.load()
    return model
