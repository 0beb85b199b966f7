"""Walk-forward training and evaluation of the LightGBM ranker, beside the heuristic baselines.

Each fold also measures, on the same test date, two things that keep the evaluation honest:
- the ceiling: the same learner trained on the simulator's latent skill, cross-fitted by account
  (never shipped; a result far above it would be a leak), only when truth is given;
- survivorship: the same model trained only on accounts still open at the end of the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from components.config.feast import INPUT_SERVICES, input_service
from components.config.settings import Settings
from components.console import progress
from components.evaluation.evaluate import (  # latent skill: for evaluation only, never a feature
    PORTFOLIO_TURNOVER,
    SKILL,
    has_skill,
)
from components.evaluation.metrics import GAINS, random_ndcg_at_k, ranking_metrics
from components.labels import DERIVED_LABELS, LABELS, label_horizon_days
from components.ranking.baselines import BASELINES, baseline_scores
from components.ranking.walk_forward import Fold, walk_forward_folds
from feature_repo.definitions import ranker_v1, service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

logger = logging.getLogger(__name__)

NDCG_K = 100
OBJECTIVES = ("regression", "lambdarank")
GRADES = 10  # relevance grades of lambdarank: deciles of the label within a date
# The ranker reads the evidence of a persistent edge, each input monotone increasing: where the
# domain is sure, more evidence never ranks an account lower. Risk and behaviour features (volatility,
# concentration, tail shape, activity) stay out of the learner: they predict a forward label through
# exposures that are not skill, and the learner would rank by them (measured: docs/SKILL_VS_LUCK.md).
# They still shape the feed through shrinkage, the concentration penalty, filters and explanations.
# The inputs are the features of the ranker_v1 service (feature_repo), with their monotone constraints.
RANKER_FEATURES: dict[str, int] = dict.fromkeys(service_features(ranker_v1), 1)
FEATURE_SETS = tuple(INPUT_SERVICES)  # Settings.ranker_features; "all" is the measured alternative
# Settings.label "auto": the first of these the history can train and test on. A year of market-
# adjusted forward returns finds skill; a month mostly finds beta and luck (docs/SKILL_VS_LUCK.md),
# but an export of a year or two has nothing longer to learn from.
AUTO_LABELS = ("fwd_alpha_tstat_12m", "fwd_sharpe_30d")


def feature_names(feature_set: str) -> list[str]:
    """The learner's inputs: the features of the service of `feature_set` (`components.config.feast`):
    ranker_v1 for the evidence features, training_v1 for every feature of the feature table.

    Raises:
        DataError: `feature_set` is neither "evidence" nor "all".
    """
    return service_features(input_service(feature_set))


@dataclass
class WalkForwardResult:
    """Per-fold metrics, out-of-sample raw predictions, and every scorer's scores per test date."""

    fold_metrics: pd.DataFrame
    predictions: pd.DataFrame
    evaluation_frame: pd.DataFrame
    objective: str = "regression"

    def summary(self) -> dict[str, float]:
        """Mean of every metric over the folds."""
        means = self.fold_metrics.drop(columns=["fold", "test_date"]).mean(numeric_only=True)
        return {f"mean_{name}": float(value) for name, value in means.items()}

    def mean(self, metric: str) -> float:
        return float(self.fold_metrics[metric].mean())

    def fold_predictions(self, fold: int) -> pd.DataFrame:
        """The raw predictions of one fold's test date, in the order they were made, without ``fold``."""
        return self.predictions[self.predictions["fold"] == fold].drop(columns="fold")


def percentile_target(frame: pd.DataFrame, column: str) -> pd.Series:
    """Cross-sectional percentile rank of `column` per as-of date.

    The model ranks accounts within a date, so it learns the order, not the month's level of
    returns; ranks also tame the heavy tails of one-month Sharpe ratios.
    """
    return frame.groupby(EVENT_TIMESTAMP)[column].rank(pct=True)


def lgb_params(settings: Settings, n_rows: int, objective: str) -> dict:
    """LightGBM parameters; conservative leaves and sampling because the label is mostly noise.

    Leaves need at least 200 rows on a platform-sized table, fewer on a small export, so that a
    few dozen accounts still train a model that splits.
    """
    params = {
        "objective": objective,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_data_in_leaf": int(min(200, max(5, n_rows // 50))),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "monotone_constraints": [
            RANKER_FEATURES.get(name, 0) for name in feature_names(settings.ranker_features)
        ],
        "seed": settings.seed,
        "num_threads": 2,
        "deterministic": True,
        "verbose": -1,
    }
    if objective == "lambdarank":
        params |= {"label_gain": list(range(GRADES)), "lambdarank_truncation_level": NDCG_K}
    return params


def ranking_queries(rows: pd.DataFrame, query_size: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows ordered by query, and the query sizes: random same-date groups of at most `query_size`.

    LightGBM allows at most 10,000 rows per query, fewer than a platform has accounts on one date,
    so each date is split at random; accounts are only ever compared with others of the same date.
    """
    rng = np.random.default_rng(seed)
    per_date = rows.groupby(EVENT_TIMESTAMP)[ENTITY_KEY].transform("size")
    chunks = np.ceil(per_date / query_size).astype(int)
    query = rows[EVENT_TIMESTAMP].astype("int64") * 10_000 + (rng.random(len(rows)) * chunks).astype(int)
    ordered = rows.assign(_query=query.to_numpy()).sort_values("_query", kind="mergesort")
    return ordered.drop(columns="_query"), ordered.groupby("_query", sort=False).size().to_numpy()


def fit_booster(train: pd.DataFrame, settings: Settings, objective: str, target: str) -> lgb.Booster:
    """Fit the ranker on rows where `target` is known, with the given objective."""
    rows, names = train[train[target].notna()], feature_names(settings.ranker_features)
    if objective == "lambdarank":
        rows, groups = ranking_queries(rows, settings.query_size, settings.seed)
        grades = np.minimum((percentile_target(rows, target) * GRADES).astype(int), GRADES - 1)
        dataset = lgb.Dataset(rows[names], label=grades, group=groups, feature_name=names)
    else:
        dataset = lgb.Dataset(rows[names], label=percentile_target(rows, target), feature_name=names)
    return lgb.train(
        lgb_params(settings, len(rows), objective), dataset, num_boost_round=settings.n_estimators
    )


def predict(booster: lgb.Booster, rows: pd.DataFrame) -> np.ndarray:
    """Raw scores of `rows` by the booster's own inputs (other columns ignored)."""
    return booster.predict(rows[booster.feature_name()], num_threads=2)


def established(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Rows with at least the minimum track record: the accounts a ranking can judge."""
    return frame[frame["track_record_days"] >= settings.min_track_record_days]


def fold_metrics(test: pd.DataFrame, scores: dict[str, np.ndarray], settings: Settings) -> dict[str, float]:
    """Metrics of each scorer and every baseline on one test date, vs the label and, if known, skill."""
    scores = {name: pd.Series(values, index=test.index) for name, values in scores.items()}
    scores |= {name: baseline(test) for name, baseline in BASELINES.items()}
    evaluated = established(test, settings).index
    targets = {"label": settings.label} | ({"skill": SKILL} if has_skill(test) else {})
    metrics: dict[str, float] = {"n_test": float(len(evaluated))}
    for target_name, column in targets.items():
        truth, gain = test.loc[evaluated, column], GAINS[target_name]
        for name, score in scores.items():
            prefix = f"{name}_vs_{target_name}"
            metrics |= ranking_metrics(truth, score[evaluated], NDCG_K, prefix, gain)
        metrics[f"random_vs_{target_name}_ndcg_at_{NDCG_K}"] = random_ndcg_at_k(truth.dropna(), NDCG_K, gain)
    return metrics


def ceiling_scores(train: pd.DataFrame, test: pd.DataFrame, settings: Settings, objective: str) -> np.ndarray:
    """The same learner trained on latent skill over every feature, cross-fitted by account in two halves.

    An account's test score comes from a model that never saw that account, so this is the upper
    bound of what the features can reveal about skill, not a memorised answer. It reads every feature
    of the training frame (``ranker_features: all``), not only the model's: a bound on what any choice
    of inputs could reach, so that a model above it is a bug (a leak) to explain.
    """
    settings = settings.model_copy(update={"ranker_features": "all"})
    half_of = lambda frame: pd.util.hash_pandas_object(frame[ENTITY_KEY], index=False).to_numpy() % 2  # noqa: E731
    train_half, test_half = half_of(train), half_of(test)
    scores = np.zeros(len(test))
    for half in (0, 1):
        booster = fit_booster(train[train_half != half], settings, objective, SKILL)
        scores[test_half == half] = predict(booster, test.loc[test_half == half])
    return scores


def survivors(frame: pd.DataFrame) -> pd.Index:
    """Accounts still present at the last as-of date: what a snapshot of today's platform shows."""
    return pd.Index(frame.loc[frame[EVENT_TIMESTAMP] == frame[EVENT_TIMESTAMP].max(), ENTITY_KEY].unique())


def evaluation_rows(test: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The test date's rows for `components.evaluation.evaluate`: labels, skill, record, each score."""
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, *LABELS, *DERIVED_LABELS, "track_record_days", "return_12m"]
    columns += [name for name in (SKILL, PORTFOLIO_TURNOVER) if name in test]
    rows = test[columns].assign(**scores)
    return rows.join(baseline_scores(test))


def run_fold(
    frame: pd.DataFrame,
    fold: Fold,
    settings: Settings,
    objective: str,
    alive: pd.Index | None,
    fitted: pd.DataFrame | None = None,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Train on the fold's dates, score its test date; returns metrics, raw predictions, evaluation rows.

    `fitted` is this fold's predictions from an earlier run of the same objective (the objective choice):
    the model is then not fitted again, only the diagnostics are (same seed and data: the same model).
    """
    train = frame[frame[EVENT_TIMESTAMP].isin(fold.train_dates)]
    test = frame[frame[EVENT_TIMESTAMP] == fold.test_date]
    if fitted is None:
        booster = fit_booster(train, settings, objective, settings.label)
        raw = predict(booster, test)
        predictions = test[[ENTITY_KEY, EVENT_TIMESTAMP, *booster.feature_name()]].assign(raw_score=raw)
    else:
        predictions = fitted.reset_index(drop=True)
        raw = predictions["raw_score"].to_numpy()
    scores = {"model": raw}
    if alive is not None:  # diagnostics: what survivorship would cost, and the ceiling
        survivor_booster = fit_booster(
            train[train[ENTITY_KEY].isin(alive)], settings, objective, settings.label
        )
        scores["survivors_only"] = predict(survivor_booster, test)
        if has_skill(train):
            scores["ceiling"] = ceiling_scores(train, test, settings, objective)
    return fold_metrics(test, scores, settings), predictions, evaluation_rows(test, scores)


def horizon_days(settings: Settings) -> int:
    """Purge and embargo span: the chosen label's horizon (`components.labels.LABEL_TABLE`)."""
    return label_horizon_days(settings.label)


def resolve_label(frame: pd.DataFrame, settings: Settings) -> str:
    """The label to learn: `settings.label`, or for "auto" the first `AUTO_LABELS` entry with a fold.

    Raises:
        ValueError: "auto" and no label has enough history for one walk-forward fold.
    """
    if settings.label != "auto":
        return settings.label
    for label in AUTO_LABELS:
        candidate = settings.model_copy(update={"label": label})
        if label in frame and walk_forward_folds_of(frame, candidate):
            return label
    fallback = settings.model_copy(update={"label": AUTO_LABELS[-1]})
    labelled_folds(frame, fallback)  # no fold for any label: raises, saying what history is missing
    return fallback.label


def walk_forward_folds_of(frame: pd.DataFrame, settings: Settings) -> list[Fold]:
    """Walk-forward folds over the dates whose label is known (possibly none)."""
    labelled_dates = frame.loc[frame[settings.label].notna(), EVENT_TIMESTAMP].unique()
    return walk_forward_folds(
        labelled_dates,
        train_months=settings.train_months,
        horizon_days=horizon_days(settings),
        max_folds=settings.max_folds,
    )


def labelled_folds(frame: pd.DataFrame, settings: Settings) -> list[Fold]:
    """Walk-forward folds over the dates whose label is known; an error says why there are none."""
    folds = walk_forward_folds_of(frame, settings)
    if not folds:
        labelled_dates = frame.loc[frame[settings.label].notna(), EVENT_TIMESTAMP].nunique()
        raise ValueError(
            f"not enough history for one walk-forward fold: {labelled_dates} labelled as-of dates, "
            f"need {settings.train_months} for training plus an embargo of {horizon_days(settings)} days"
        )
    return folds


def walk_forward(
    frame: pd.DataFrame,
    settings: Settings,
    objective: str,
    diagnostics: bool = True,
    fitted: WalkForwardResult | None = None,
) -> WalkForwardResult:
    """Run every walk-forward fold of `frame` (features, labels and optional skill per account-date).

    With `diagnostics`, each fold also fits the survivors-only model and, given truth, the ceiling.
    `fitted`, a run of the same objective without diagnostics, supplies each fold's model predictions,
    so only the diagnostics are fitted.
    """
    folds = labelled_folds(frame, settings)
    alive = survivors(frame) if diagnostics else None
    rows, predictions, evaluation = [], [], []
    for number, fold in enumerate(progress(folds, f"walk-forward [{objective}]", unit="fold")):
        known = None if fitted is None else fitted.fold_predictions(number)
        metrics, fold_predictions, fold_evaluation = run_fold(frame, fold, settings, objective, alive, known)
        rows.append({"fold": number, "test_date": fold.test_date} | metrics)
        predictions.append(fold_predictions.assign(fold=number))
        evaluation.append(fold_evaluation)
        logger.info(
            "[%s] fold %d/%d test %s: NDCG@100 vs label model %.4f baseline %.4f",
            objective,
            number + 1,
            len(folds),
            fold.test_date.date(),
            metrics[f"model_vs_label_ndcg_at_{NDCG_K}"],
            metrics[f"roi_log_days_vs_label_ndcg_at_{NDCG_K}"],
        )
    return WalkForwardResult(
        pd.DataFrame(rows),
        pd.concat(predictions, ignore_index=True),
        pd.concat(evaluation, ignore_index=True),
        objective,
    )


def choose_objective(frame: pd.DataFrame, settings: Settings) -> tuple[WalkForwardResult, dict]:
    """Walk-forward with each candidate objective; keep the better by mean NDCG@100 against the label.

    The choice uses the label only, never latent skill, so it is a choice a real platform can make.
    """
    objectives = OBJECTIVES if settings.objective == "auto" else (settings.objective,)
    metric = f"model_vs_label_ndcg_at_{NDCG_K}"
    if len(objectives) == 1:
        result = walk_forward(frame, settings, objectives[0])
        return result, {f"objective_{objectives[0]}_{metric}": result.mean(metric)}
    plain = {
        objective: walk_forward(frame, settings, objective, diagnostics=False) for objective in objectives
    }
    best = max(plain, key=lambda objective: plain[objective].mean(metric))
    # The kept objective's folds again for the diagnostics only: its models are the ones already fitted.
    return walk_forward(frame, settings, best, fitted=plain[best]), {
        f"objective_{name}_{metric}": result.mean(metric) for name, result in plain.items()
    }


def final_training_dates(frame: pd.DataFrame, settings: Settings) -> list[pd.Timestamp]:
    """The latest `train_months` labelled as-of dates: what the shipped model is trained on."""
    dates = sorted(frame.loc[frame[settings.label].notna(), EVENT_TIMESTAMP].unique())
    return [pd.Timestamp(d) for d in dates[-settings.train_months :]]
