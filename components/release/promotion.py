"""The gate step: decide on the challenger, record the verdict in MLflow, promote it if it passed."""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient

from components.config import registry
from components.config.settings import Settings
from components.config.tracking import use_experiment
from components.release.gate import GateDecision, gate


def decide(outcome: dict, settings: Settings) -> GateDecision:
    """The gate's verdict on a training outcome (see `components.release.training.train_and_register`)."""
    comparisons = {"baseline": (outcome["candidate_ndcg"], outcome["baseline_ndcg"])}
    if outcome.get("champion_ndcg") is not None:
        comparisons["champion"] = (outcome["candidate_ndcg_vs_champion"], outcome["champion_ndcg"])
    guardrails = {"top_100_turnover": (outcome["candidate_top_turnover"], settings.max_top_turnover)}
    return gate(comparisons, guardrails, outcome.get("gate_target", "label"))


def record_decision(outcome: dict, decision: GateDecision, settings: Settings) -> None:
    """Log the verdict and its numbers on the training run, and tag the challenger's version."""
    use_experiment(settings)
    with mlflow.start_run(run_id=outcome["run_id"]):
        mlflow.log_metrics({f"gate_{k}": v for k, v in decision.numbers.items() if v == v})
        mlflow.set_tags({"gate_promote": str(decision.promote), "gate_reasons": " | ".join(decision.reasons)})
    MlflowClient().set_model_version_tag(
        settings.model_name, outcome["version"], "gate", "passed" if decision.promote else "failed"
    )


def promote(version: str, settings: Settings) -> None:
    """Point the `champion` alias at `version` (the previous champion keeps its version, untouched)."""
    mlflow.set_tracking_uri(settings.mlflow_uri)
    MlflowClient().set_registered_model_alias(settings.model_name, registry.CHAMPION, version)
