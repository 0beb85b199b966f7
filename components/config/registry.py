"""Conventions of the MLflow model registry shared by training, the gate, deployment and serving."""

from __future__ import annotations

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT = "model"

# Model-version tags written at registration and read by the gate and the predictor.
TAG_FEATURE_SERVICE = "feature_service"
TAG_TRAIN_END = "train_end"
TAG_WALK_FORWARD_NDCG = "walk_forward_ndcg_at_100"

# The constants of `components.scoring.finalize.ScoringConstants`, fitted at training time: batch
# scores/ and the served feed read them from the same model version, so both finalize alike.
TAG_NEUTRAL_SCORE = "neutral_score"
TAG_PRIOR_MEAN = "prior_mean"
TAG_PRIOR_VARIANCE = "prior_variance"
TAG_SCORE_SCALE = "score_scale"
TAG_MIN_TRACK_RECORD_DAYS = "min_track_record_days"
TAG_CONCENTRATION_PENALTY = "concentration_penalty"
TAG_COMPETING_ACCOUNTS = "competing_accounts"
TAG_SHARPE_VARIANCE = "sharpe_variance"
TAG_FDR_P_CUTOFF = "fdr_p_cutoff"
# The prior of edges behind the probability of skill, as compact JSON (`SkillPrior.to_json`).
TAG_SKILL_PRIOR = "skill_prior"


def model_uri(model_name: str, alias: str = CHAMPION) -> str:
    """The registry URI of a model alias, e.g. ``models:/skillrank@champion``."""
    return f"models:/{model_name}@{alias}"
