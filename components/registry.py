"""Conventions of the MLflow model registry shared by training, the gate, deployment and serving."""

from __future__ import annotations

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT = "model"

# Model-version tags written at registration and read by the gate and the predictor.
TAG_NEUTRAL_SCORE = "neutral_score"
TAG_FEATURE_SERVICE = "feature_service"
TAG_TRAIN_END = "train_end"
TAG_WALK_FORWARD_NDCG = "walk_forward_ndcg_at_100"


def model_uri(model_name: str, alias: str = CHAMPION) -> str:
    """The registry URI of a model alias, e.g. ``models:/skillrank@champion``."""
    return f"models:/{model_name}@{alias}"
