"""The gate step: decide on the challenger, record the verdict in MLflow, promote it if it passed."""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from mlflow.utils.time import get_current_time_millis

from components.config import registry
from components.config.settings import Settings
from components.release.gate import GateDecision, gate
from components.release.training import TrainingOutcome

logger = logging.getLogger(__name__)


def decide(outcome: TrainingOutcome, settings: Settings) -> GateDecision:
    """The gate's verdict on a training outcome: against the baseline, the champion if any, the guardrail."""
    comparisons = {"baseline": (outcome.candidate_ndcg, outcome.baseline_ndcg)}
    if outcome.champion_ndcg is not None:
        comparisons["champion"] = (outcome.candidate_ndcg_vs_champion, outcome.champion_ndcg)
    guardrails = {
        "top_100_turnover": (outcome.candidate_top_turnover, settings.max_top_turnover),
        "top_100_portfolio_turnover_ratio": (
            outcome.candidate_portfolio_turnover,
            settings.max_portfolio_turnover_ratio,
        ),
    }
    decision = gate(comparisons, guardrails, outcome.gate_target, settings.non_inferiority_margin)
    logger.info("gate on %s v%s: %s", settings.model_name, outcome.version, decision.headline())
    return decision


def record_decision(
    client: MlflowClient, outcome: TrainingOutcome, decision: GateDecision, model_name: str
) -> None:
    """Log the verdict and its numbers on the training run, and tag the challenger's version."""
    now = get_current_time_millis()
    client.log_batch(
        outcome.run_id,
        metrics=[Metric(f"gate_{k}", v, now, 0) for k, v in decision.numbers.items() if v == v],  # not NaN
        tags=[
            RunTag("gate_promote", str(decision.promote)),
            RunTag("gate_reasons", " | ".join(decision.reasons)),
            RunTag("gate_rule", decision.rule),
        ],
    )
    client.set_model_version_tag(
        model_name, outcome.version, "gate", "passed" if decision.promote else "failed"
    )


def promote(client: MlflowClient, model_name: str, version: str) -> None:
    """Point the `champion` alias at `version` (the previous champion keeps its version, untouched)."""
    client.set_registered_model_alias(model_name, registry.CHAMPION, version)
