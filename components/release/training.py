"""The training step: walk-forward evaluation, the shipped model, MLflow tracking and registration."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from components.config import registry
from components.config.feast import feature_store, input_service
from components.config.layout import DataLayout
from components.config.settings import Settings
from components.config.tracking import Tracking
from components.errors import DataError
from components.evaluation.calibration import Calibration, walk_forward_calibration
from components.evaluation.evaluate import Evaluation, evaluate_scorers, has_skill
from components.evaluation.report import evaluation_summary, write_evaluation_report
from components.ranking.baselines import BASELINES
from components.ranking.cpcv import cpcv_metrics
from components.ranking.learner import (
    NDCG_K,
    WalkForwardResult,
    choose_objective,
    final_training_dates,
    fit_booster,
    horizon_days,
    labelled_folds,
    predict,
    resolve_label,
)
from components.release.champion import champion_fold_ndcg
from components.scoring.finalize import ScoringConstants, fit_scoring_constants
from components.store.modelling_frame import modelling_frame
from feature_repo.feature_schema import EVENT_TIMESTAMP

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOutcome:
    """What training hands the gate: the registered challenger and the per-fold numbers to compare.

    Each list holds one NDCG@100 per walk-forward fold, aligned fold by fold with its partner: the
    candidate's against the baseline's on every fold, and against the champion's on the folds the
    champion could be scored on (None without a champion). It crosses the process boundary between
    pipeline steps as JSON (`to_json`, `from_json`).

    Example:
        >>> outcome = TrainingOutcome("run", "3", {}, "report.html", [0.6], [0.5], "label", 0.2,
        ...                           candidate_portfolio_turnover=0.9)
        >>> TrainingOutcome.from_json(outcome.to_json()) == outcome
        True
    """

    run_id: str
    version: str
    summary: dict[str, float]
    report: str
    candidate_ndcg: list[float]
    baseline_ndcg: list[float]
    gate_target: str
    # Guardrail: the share of the model's top 100 replaced from one test month to the next.
    candidate_top_turnover: float
    champion_ndcg: list[float] | None = None
    candidate_ndcg_vs_champion: list[float] | None = None
    # Guardrail: the model's top 100's median portfolio turnover over every account's (NaN: unknown).
    candidate_portfolio_turnover: float = float("nan")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TrainingOutcome:
        return cls(**json.loads(text))


def train_and_register(layout: DataLayout, settings: Settings, tracking: Tracking) -> TrainingOutcome:
    """Evaluate walk-forward, fit the shipped model, track it in MLflow and register it as challenger.

    Args:
        layout: The data root (features, labels, and where predictions and the report go).
        settings: The run's settings.
        tracking: The client and experiment, from `components.config.tracking.use_experiment` (the
            entry point calls it: logging the model needs MLflow's fluent API pointed at the same place).
    """
    frame = modelling_frame(layout, feature_store(settings), settings.feature_service)
    settings = settings.model_copy(update={"label": resolve_label(frame, settings)})
    labelled = frame[settings.label].notna().sum()
    logger.info("modelling frame: %d account-dates, %d labelled by %s", len(frame), labelled, settings.label)
    result, comparison = choose_objective(frame, settings)
    logger.info("objective kept: %s (%s)", result.objective, comparison)
    write_predictions(layout, result)
    target = gate_target(frame, settings)
    champion = champion_fold_ndcg(frame, result, settings, tracking.client, target)
    booster, train_dates, constants = fit_shipped_model(frame, settings, result.objective)
    with mlflow.start_run(experiment_id=tracking.experiment_id, run_name="train") as run:
        log_run(settings, result, train_dates)
        mlflow.log_metrics(comparison)
        report, evaluation = write_evaluation(
            layout, result, settings.label, skill_calibration(frame, settings)
        )
        log_cpcv(cpcv_metrics(frame, settings, result.objective))
        version = register_challenger(
            booster, settings, result, train_dates, constants, target, tracking.client
        )
    candidate = per_fold(result, "model", target)
    return TrainingOutcome(
        run_id=run.info.run_id,
        version=version,
        summary=result.summary(),
        report=str(report),
        candidate_ndcg=candidate.tolist(),
        baseline_ndcg=per_fold(result, "roi_log_days", target).tolist(),
        gate_target=target,
        candidate_top_turnover=float(evaluation.turnover["model"].mean()),
        candidate_portfolio_turnover=(
            float("nan")
            if evaluation.portfolio_turnover is None
            else float(evaluation.portfolio_turnover["model"].mean())
        ),
        # The champion is compared on the folds it could be scored on, candidate on the same folds.
        champion_ndcg=None if champion is None else champion.tolist(),
        candidate_ndcg_vs_champion=None if champion is None else candidate.reindex(champion.index).tolist(),
    )


def fit_shipped_model(
    frame: pd.DataFrame, settings: Settings, objective: str
) -> tuple[lgb.Booster, list[pd.Timestamp], ScoringConstants]:
    """The model the feed serves, trained on the latest labelled dates, and its scoring constants.

    The constants of the feed's score (shrinkage prior, scale, neutral score) are fitted on the same
    training rows, so batch scores and the served feed finalize alike.
    """
    train_dates = final_training_dates(frame, settings)
    train_rows = frame[frame[EVENT_TIMESTAMP].isin(train_dates)]
    booster = fit_booster(train_rows, settings, objective, settings.label)
    constants = fit_scoring_constants(
        train_rows,
        predict(booster, train_rows),
        min_track_record_days=settings.min_track_record_days,
        concentration_penalty=settings.concentration_penalty,
    )
    return booster, train_dates, constants


def per_fold(result: WalkForwardResult, scorer: str, target: str) -> pd.Series:
    """Per-fold NDCG@100 against `target` (label or skill), indexed by test date: what the gate compares."""
    metrics = result.fold_metrics.set_index("test_date")
    return metrics[f"{scorer}_vs_{target}_ndcg_at_{NDCG_K}"].astype(float)


def gate_target(frame: pd.DataFrame, settings: Settings) -> str:
    """What the gate ranks against: latent skill where the world has it (the product's objective, known
    only in a simulated world), else the forward label (the only observable on a real platform)."""
    if settings.gate_target == "auto":
        return "skill" if has_skill(frame) else "label"
    if settings.gate_target == "skill" and not has_skill(frame):
        raise DataError("gate_target is skill but the source has no truth/ table: use label or auto")
    return settings.gate_target


def predictions_path(layout: DataLayout) -> Path:
    """Where the walk-forward's out-of-sample raw predictions go (the scores/ step reads them)."""
    return layout.root / "predictions" / "walk_forward.parquet"


def write_predictions(layout: DataLayout, result: WalkForwardResult) -> None:
    """Out-of-sample raw predictions of every test date, for the scores/ table."""
    path = predictions_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    result.predictions.to_parquet(path, index=False)


def log_run(settings: Settings, result: WalkForwardResult, train_dates: list[pd.Timestamp]) -> None:
    """Parameters, per-fold metrics (one step per fold), means and the fold table."""
    mlflow.log_params(
        {
            "label": settings.label,
            "objective": result.objective,
            "features": settings.ranker_features,
            "n_estimators": settings.n_estimators,
            "train_months": settings.train_months,
            "label_horizon_days": horizon_days(settings),
            "folds": len(result.fold_metrics),
            "final_train_start": train_dates[0].date(),
            "final_train_end": train_dates[-1].date(),
        }
    )
    for row in result.fold_metrics.to_dict("records"):
        values = {k: float(v) for k, v in row.items() if k not in ("fold", "test_date") and pd.notna(v)}
        mlflow.log_metrics(values, step=int(row["fold"]))
    mlflow.log_metrics({k: v for k, v in result.summary().items() if np.isfinite(v)})
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "walk_forward_folds.csv"
        result.fold_metrics.to_csv(table, index=False)
        mlflow.log_artifact(str(table))


def log_cpcv(splits: pd.DataFrame) -> None:
    """Each CPCV split's metrics as one step, and their means."""
    if splits.empty:
        logger.info("CPCV skipped: the history is too short to recombine")
        return
    for row in splits.to_dict("records"):
        mlflow.log_metrics(
            {f"cpcv_{k}": float(v) for k, v in row.items() if k != "split" and pd.notna(v)},
            step=int(row["split"]),
        )
    means = splits.drop(columns="split").mean()
    mlflow.log_metrics({f"cpcv_mean_{k}": float(v) for k, v in means.items() if pd.notna(v)})
    logger.info(
        "CPCV %d splits: mean NDCG@100 vs label %.4f", len(splits), means[f"model_vs_label_ndcg_at_{NDCG_K}"]
    )


def skill_calibration(frame: pd.DataFrame, settings: Settings) -> Calibration | None:
    """The probability of skill of the walk-forward's test dates against latent skill (None without it),
    each fold's prior fitted on its own training rows."""
    return walk_forward_calibration(
        frame, labelled_folds(frame, settings), min_track_record_days=settings.min_track_record_days
    )


def write_evaluation(
    layout: DataLayout, result: WalkForwardResult, label: str, calibration: Calibration | None = None
) -> tuple[Path, Evaluation]:
    """The evaluation of the model, the ceiling and every baseline, its report logged to the active run.

    The top-100 turnover the gate's guardrail reads is ``evaluation.turnover`` (``turnover_k`` 100).
    With `calibration`, the report has its section and the run its ``calibration_*`` metrics.
    """
    scorers = [name for name in ("model", "ceiling", "survivors_only") if name in result.evaluation_frame]
    evaluation = evaluate_scorers(
        result.evaluation_frame, [*scorers, *BASELINES], turnover_k=NDCG_K, label=label
    )
    mlflow.log_metrics({f"eval_{k}": v for k, v in evaluation_summary(evaluation).items()})
    if calibration is not None:
        mlflow.log_metrics(calibration.metrics())
    report = write_evaluation_report(evaluation, layout.reports / "evaluation", calibration=calibration)
    mlflow.log_artifact(str(report))
    return report, evaluation


def register_challenger(
    booster,
    settings: Settings,
    result: WalkForwardResult,
    train_dates: list[pd.Timestamp],
    constants: ScoringConstants,
    target: str,
    client: MlflowClient,
) -> str:
    """Log the native Booster to the active run, register it and point the `challenger` alias at it."""
    info = mlflow.lightgbm.log_model(
        booster, name=registry.MODEL_ARTIFACT, registered_model_name=settings.model_name
    )
    version = str(info.registered_model_version)
    tags = {
        **constants.to_tags(),
        registry.TAG_FEATURE_SERVICE: input_service(settings.ranker_features).name,  # the model's inputs
        registry.TAG_TRAIN_END: str(train_dates[-1].date()),
        registry.TAG_WALK_FORWARD_NDCG: json.dumps(
            {str(date.date()): value for date, value in per_fold(result, "model", target).items()}
        ),
    }
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    client.set_registered_model_alias(settings.model_name, registry.CHALLENGER, version)
    return version
