"""`skillrank study`: which label and which learner inputs find skill, measured on a simulated world.

Every choice of the ranker's design earns its place by a measured comparison (DESIGN.md, "Skill
versus luck"). This runs the walk-forward of each (label, feature set, objective) on a data root the
feature job has filled, and prints NDCG@100 against the label and, in a simulated world, against
latent skill, beside the heuristic baselines on the same test dates. Choose on one world; confirm on
another seed and period before believing it.
"""

from __future__ import annotations

import logging

import pandas as pd

from components.config.feast import feature_store
from components.config.settings import Settings
from components.evaluation.evaluate import has_skill
from components.ranking.baselines import BASELINES
from components.ranking.learner import NDCG_K, walk_forward
from components.store.modelling_frame import modelling_frame
from feature_repo.feature_schema import EVENT_TIMESTAMP

logger = logging.getLogger(__name__)


def study_rows(
    frame: pd.DataFrame,
    settings: Settings,
    labels: list[str],
    feature_sets: list[str],
    objectives: list[str],
) -> pd.DataFrame:
    """One row per (label, feature set, objective): folds and mean NDCG@100 of model and baselines.

    Labels are compared on the same test dates: each label is hidden after the last date the slowest
    of them has matured, so a 30-day label is not tested on months a 12-month label cannot reach yet
    (it still trains on fresher months: that is its real advantage, and it counts).
    """
    targets = ["label", "skill"] if has_skill(frame) else ["label"]
    frame, common_end = aligned_labels(frame, labels)
    rows = []
    for label in labels:
        for feature_set in feature_sets:
            for objective in objectives:
                variant = settings.model_copy(update={"label": label, "ranker_features": feature_set})
                result = walk_forward(frame, variant, objective, diagnostics=False)
                row = {"label": label, "features": feature_set, "objective": objective}
                row["folds"] = len(result.fold_metrics)
                row["test_dates"] = f"{result.fold_metrics['test_date'].min().date()}..{common_end.date()}"
                for target in targets:
                    for scorer in ["model", *BASELINES]:
                        row[f"{scorer}_vs_{target}"] = result.mean(f"{scorer}_vs_{target}_ndcg_at_{NDCG_K}")
                logger.info("study: %s / %s / %s: %s", label, feature_set, objective, row)
                rows.append(row)
    return pd.DataFrame(rows)


def aligned_labels(frame: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, pd.Timestamp]:
    """A copy of `frame` whose `labels` all end at the last date every one of them has matured."""
    common_end = min(frame.loc[frame[label].notna(), EVENT_TIMESTAMP].max() for label in labels)
    aligned = frame.copy()
    for label in labels:
        aligned[label] = aligned[label].where(aligned[EVENT_TIMESTAMP] <= common_end)
    return aligned, common_end


def run_study(
    settings: Settings, labels: list[str], feature_sets: list[str], objectives: list[str]
) -> pd.DataFrame:
    """`study_rows` on the modelling frame of `settings.data_root` (run `skillrank features` first)."""
    frame = modelling_frame(settings.layout, feature_store(settings), settings.feature_service)
    return study_rows(frame, settings, labels, feature_sets, objectives)
