"""`skillrank study`: which label and which learner inputs find skill, measured on a simulated world.

Every choice of the ranker's design earns its place by a measured comparison (DESIGN.md, "Skill
versus luck"). This runs the walk-forward of each (label, feature set, objective) on a data root the
feature job has filled, and prints NDCG@100 and Precision@100 against the label and, in a simulated
world, against latent skill, beside the heuristic baselines and a random order on the same test
dates. With additions (`ADDITIONS`, or any feature name), it also runs the evidence inputs plus each
addition, so that every candidate feature shows its own effect against the same evidence row.
Choose on one world; confirm on another seed and period before believing it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from components.config.feast import INPUT_SERVICES, feature_store
from components.config.settings import Settings
from components.errors import DataError
from components.evaluation.evaluate import SKILL, by_date, has_skill, top_k
from components.evaluation.metrics import GAINS
from components.ranking import learner
from components.ranking.baselines import BASELINES
from components.ranking.learner import NDCG_K, WalkForwardResult, walk_forward
from components.store.modelling_frame import modelling_frame
from feature_repo.definitions import consumer_service
from feature_repo.feature_schema import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    FEATURES,
    POST_TRADE_HORIZONS,
    POST_TRADE_WINDOWS,
    post_trade_names,
)

logger = logging.getLogger(__name__)

EVIDENCE = "evidence"
TOP_SHARE = 0.1  # Precision@k counts the top k that are in the top decile of the target
RANDOM = "random"


def post_trade_group(statistic: int, window: str) -> dict[str, int]:
    """The post-trade features of one statistic (0: mean, 1: t-statistic) and window, every horizon, +1."""
    return {post_trade_names(h, window)[statistic]: 1 for h in POST_TRADE_HORIZONS}


# Candidate additions to the evidence inputs: name -> {feature: monotone direction}. +1 where the domain
# is sure: a trader whose trades were followed by market-relative gains showed information.
ADDITIONS: dict[str, dict[str, int]] = {
    f"post_trade_{statistic}_{window}": post_trade_group(i, window)
    for window in POST_TRADE_WINDOWS
    for i, statistic in enumerate(("mean", "tstat"))
} | {"trade_edge_tstat_12m": {"trade_edge_tstat_12m": 1}}
# Single features whose direction the domain is sure of; any other feature name is added unconstrained.
SURE_INCREASING = {feature for inputs in ADDITIONS.values() for feature in inputs}


def addition_inputs(addition: str) -> dict[str, int]:
    """The features of an addition with their monotone directions: an `ADDITIONS` group, or one feature.

    Raises:
        DataError: `addition` is neither a group nor a feature.

    Example:
        >>> addition_inputs("post_trade_tstat_12m")
        {'post_trade_tstat_5d_12m': 1, 'post_trade_tstat_10d_12m': 1, 'post_trade_tstat_20d_12m': 1}
        >>> addition_inputs("hhi")
        {'hhi': 0}
    """
    if addition in ADDITIONS:
        return dict(ADDITIONS[addition])
    if addition in FEATURES:
        return {addition: int(addition in SURE_INCREASING)}
    raise DataError(
        f"unknown addition {addition!r}: choose a feature of feature_repo.feature_schema or one of "
        f"{', '.join(ADDITIONS)}"
    )


@contextmanager
def evidence_plus(addition: str) -> Iterator[str]:
    """Register the feature set ``evidence+<addition>`` for the learner while the block runs.

    The learner reads its inputs from the feature service of a feature set
    (`components.config.feast.INPUT_SERVICES`) and their monotone directions from
    `components.ranking.learner.RANKER_FEATURES`. The candidate set is registered in both and removed
    after, so it runs the very walk-forward the shipped evidence set runs, with only the inputs changed.
    """
    name = f"{EVIDENCE}+{addition}"
    inputs = learner.RANKER_FEATURES | addition_inputs(addition)
    service = consumer_service(
        f"study_{addition}", tuple(inputs), "study", f"Evidence inputs and {addition}."
    )
    directions = dict(learner.RANKER_FEATURES)
    INPUT_SERVICES[name] = service
    learner.RANKER_FEATURES.update(inputs)
    try:
        yield name
    finally:
        del INPUT_SERVICES[name]
        learner.RANKER_FEATURES.clear()
        learner.RANKER_FEATURES.update(directions)


def top_share_precision(day: pd.DataFrame, scorer: str, target: str, gain_of: str, k: int = NDCG_K) -> float:
    """Share of the top k by `scorer` that are in the top decile by `target` with a positive gain.

    The gain is the target's (`components.evaluation.metrics.GAINS[gain_of]`): against skill only the
    skilled count, so a decile reaching into the zero-skill accounts is not filled with them. NaN when
    the date has k or fewer accounts with both values.
    """
    valid = day[day[scorer].notna() & day[target].notna()]
    if len(valid) <= k:
        return float("nan")
    return len(set(top_k(valid, scorer, k)) & relevant(valid, target, gain_of)) / k


def relevant(valid: pd.DataFrame, target: str, gain_of: str) -> set[str]:
    """Accounts in the top decile of `target` whose gain is positive."""
    decile = valid[valid[ENTITY_KEY].isin(top_k(valid, target, math.ceil(TOP_SHARE * len(valid))))]
    return set(decile.loc[GAINS[gain_of](decile[target]) > 0, ENTITY_KEY])


def precision_means(
    result: WalkForwardResult, settings: Settings, targets: dict[str, str]
) -> dict[str, float]:
    """Mean Precision@100 over the test dates of the model, each baseline and a random order.

    Over the accounts the fold metrics rank (the minimum track record), as NDCG@100 is.
    """
    frame = result.evaluation_frame
    frame = frame[frame["track_record_days"] >= settings.min_track_record_days]
    values: dict[str, list[float]] = {}
    for _, day in by_date(frame):
        for name, column in targets.items():
            for scorer in ["model", *BASELINES]:
                values.setdefault(f"{scorer}_vs_{name}_p{NDCG_K}", []).append(
                    top_share_precision(day, scorer, column, name)
                )
            known = day[day[column].notna()]
            share = len(relevant(known, column, name)) / len(known) if len(known) > NDCG_K else math.nan
            values.setdefault(f"{RANDOM}_vs_{name}_p{NDCG_K}", []).append(share)
    return {key: float(pd.Series(series, dtype=float).mean()) for key, series in values.items()}


def study_row(frame: pd.DataFrame, settings: Settings, label: str, feature_set: str, objective: str) -> dict:
    """Folds, test dates and mean NDCG@100 and Precision@100 of the model, baselines and random order."""
    targets = {"label": label} | ({"skill": SKILL} if has_skill(frame) else {})
    variant = settings.model_copy(update={"label": label, "ranker_features": feature_set})
    result = walk_forward(frame, variant, objective, diagnostics=False)
    row = {"label": label, "features": feature_set, "objective": objective}
    row["folds"] = len(result.fold_metrics)
    tested = result.fold_metrics["test_date"]
    row["test_dates"] = f"{tested.min().date()}..{tested.max().date()}"
    for target in targets:
        for scorer in ["model", *BASELINES, RANDOM]:
            row[f"{scorer}_vs_{target}_ndcg"] = result.mean(f"{scorer}_vs_{target}_ndcg_at_{NDCG_K}")
    row |= precision_means(result, variant, targets)
    logger.info("study: %s / %s / %s: %s", label, feature_set, objective, row)
    return row


def study_rows(
    frame: pd.DataFrame,
    settings: Settings,
    labels: list[str],
    feature_sets: list[str],
    objectives: list[str],
    additions: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (label, feature set, objective): folds, NDCG@100 and Precision@100 of the model and
    of each baseline and a random order, against the label and (given truth) latent skill.

    Each of `additions` adds a row ``evidence+<addition>`` after the feature sets' (which then always
    include ``evidence``, the row to compare with). Labels are compared on the same test dates: each
    label is hidden after the last date the slowest of them has matured, so a 30-day label is not
    tested on months a 12-month label cannot reach yet (it still trains on fresher months: that is
    its real advantage, and it counts).
    """
    additions = list(additions or [])
    for addition in additions:
        addition_inputs(addition)  # an unknown name fails now, not after the first walk-forwards
    if additions and EVIDENCE not in feature_sets:
        feature_sets = [EVIDENCE, *feature_sets]
    frame, _ = aligned_labels(frame, labels)
    rows = []
    for label in labels:
        for objective in objectives:
            rows += [
                study_row(frame, settings, label, feature_set, objective) for feature_set in feature_sets
            ]
            for addition in additions:
                with evidence_plus(addition) as feature_set:
                    rows.append(study_row(frame, settings, label, feature_set, objective))
    return pd.DataFrame(rows)


def aligned_labels(frame: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, pd.Timestamp]:
    """A copy of `frame` whose `labels` all end at the last date every one of them has matured."""
    common_end = min(frame.loc[frame[label].notna(), EVENT_TIMESTAMP].max() for label in labels)
    aligned = frame.copy()
    for label in labels:
        aligned[label] = aligned[label].where(aligned[EVENT_TIMESTAMP] <= common_end)
    return aligned, common_end


def run_study(
    settings: Settings,
    labels: list[str],
    feature_sets: list[str],
    objectives: list[str],
    additions: list[str] | None = None,
) -> pd.DataFrame:
    """`study_rows` on the modelling frame of `settings.data_root` (run `skillrank features` first)."""
    frame = modelling_frame(settings.layout, feature_store(settings), settings.feature_service)
    return study_rows(frame, settings, labels, feature_sets, objectives, additions)
