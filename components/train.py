"""Walk-forward training and evaluation of the LightGBM ranker, beside the heuristic baselines."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from components.baselines import BASELINES
from components.metrics import ranking_metrics
from components.settings import Settings
from components.walk_forward import Fold, walk_forward_folds
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES

LABEL = "fwd_sharpe_30d"
SKILL = "skill"  # latent skill from truth/, for evaluation only: never a feature
NDCG_K = 100
FEATURE_NAMES = list(FEATURES)


@dataclass
class WalkForwardResult:
    """Per-fold metrics and the out-of-sample raw predictions of every test date."""

    fold_metrics: pd.DataFrame
    predictions: pd.DataFrame

    def summary(self) -> dict[str, float]:
        """Mean of every metric over the folds."""
        means = self.fold_metrics.drop(columns=["fold", "test_date"]).mean(numeric_only=True)
        return {f"mean_{name}": float(value) for name, value in means.items()}


def training_target(frame: pd.DataFrame) -> pd.Series:
    """Cross-sectional percentile rank of the label per as-of date.

    The model ranks accounts within a date, so it learns the order, not the month's level of
    returns; ranks also tame the heavy tails of one-month Sharpe ratios.
    """
    return frame.groupby(EVENT_TIMESTAMP)[LABEL].rank(pct=True)


def lgb_params(settings: Settings, n_rows: int) -> dict:
    """LightGBM parameters; conservative leaves and sampling because the label is mostly noise.

    Leaves need at least 200 rows on a platform-sized table, fewer on a small export, so that a
    few dozen accounts still train a model that splits.
    """
    return {
        "objective": "regression",
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_data_in_leaf": int(min(200, max(5, n_rows // 50))),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "seed": settings.seed,
        "num_threads": 2,
        "deterministic": True,
        "verbose": -1,
    }


def fit_booster(train: pd.DataFrame, settings: Settings) -> lgb.Booster:
    """Fit the ranker on labelled rows (rows without a label are left out)."""
    rows = train[train[LABEL].notna()]
    dataset = lgb.Dataset(rows[FEATURE_NAMES], label=training_target(rows), feature_name=FEATURE_NAMES)
    return lgb.train(lgb_params(settings, len(rows)), dataset, num_boost_round=settings.n_estimators)


def established(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Rows with at least the minimum track record: the accounts a ranking can judge."""
    return frame[frame["track_record_days"] >= settings.min_track_record_days]


def fold_metrics(test: pd.DataFrame, model_score: np.ndarray, settings: Settings) -> dict[str, float]:
    """Metrics of the model and every baseline on one test date, against the label and, if known, skill."""
    scores = {"model": pd.Series(model_score, index=test.index)}
    scores |= {name: baseline(test) for name, baseline in BASELINES.items()}
    evaluated = established(test, settings).index
    targets = [LABEL] + ([SKILL] if SKILL in test and test[SKILL].notna().any() else [])
    metrics: dict[str, float] = {"n_test": float(len(evaluated))}
    for target in targets:
        for name, score in scores.items():
            prefix = f"{name}_vs_{'label' if target == LABEL else 'skill'}"
            metrics |= ranking_metrics(test.loc[evaluated, target], score[evaluated], NDCG_K, prefix)
    return metrics


def run_fold(frame: pd.DataFrame, fold: Fold, settings: Settings) -> tuple[dict, pd.DataFrame]:
    """Train on the fold's dates, score its test date; returns metrics and raw predictions."""
    train = frame[frame[EVENT_TIMESTAMP].isin(fold.train_dates)]
    test = frame[frame[EVENT_TIMESTAMP] == fold.test_date]
    booster = fit_booster(train, settings)
    raw = booster.predict(test[FEATURE_NAMES], num_threads=2)
    predictions = test[[ENTITY_KEY, EVENT_TIMESTAMP, "track_record_days"]].assign(raw_score=raw)
    return fold_metrics(test, raw, settings), predictions


def walk_forward(frame: pd.DataFrame, settings: Settings, progress=print) -> WalkForwardResult:
    """Run every walk-forward fold of `frame` (features, label and optional skill per account-date)."""
    labelled_dates = frame.loc[frame[LABEL].notna(), EVENT_TIMESTAMP].unique()
    folds = walk_forward_folds(
        labelled_dates,
        train_months=settings.train_months,
        horizon_days=settings.label_horizon_days,
        max_folds=settings.max_folds,
    )
    if not folds:
        raise ValueError(
            f"not enough history for one walk-forward fold: {len(labelled_dates)} labelled as-of dates, "
            f"need {settings.train_months} for training plus an embargo of {settings.label_horizon_days} days"
        )
    rows, predictions = [], []
    for number, fold in enumerate(folds):
        metrics, fold_predictions = run_fold(frame, fold, settings)
        rows.append({"fold": number, "test_date": fold.test_date} | metrics)
        predictions.append(fold_predictions.assign(fold=number))
        progress(
            f"fold {number + 1}/{len(folds)} test {fold.test_date.date()}: NDCG@{NDCG_K} vs label "
            f"model {metrics[f'model_vs_label_ndcg_at_{NDCG_K}']:.4f} "
            f"baseline {metrics[f'roi_log_days_vs_label_ndcg_at_{NDCG_K}']:.4f}"
        )
    return WalkForwardResult(pd.DataFrame(rows), pd.concat(predictions, ignore_index=True))


def final_training_dates(frame: pd.DataFrame, settings: Settings) -> list[pd.Timestamp]:
    """The latest `train_months` labelled as-of dates: what the shipped model is trained on."""
    dates = sorted(frame.loc[frame[LABEL].notna(), EVENT_TIMESTAMP].unique())
    return [pd.Timestamp(d) for d in dates[-settings.train_months :]]
