"""Is the probability of skill calibrated? Its reliability against the simulator's latent skill.

An account is truly skilled when ``truth.skill > 0``. Among accounts shown "probability of skill 30%",
about 30% should be; the reliability table says how far each bin is from that, the expected calibration
error (ECE) sums the gaps weighted by how many accounts each bin holds, and the Brier score is the mean
squared error of the probabilities. The walk-forward's out-of-sample probabilities
(`out_of_sample_probabilities`) are what the feed would have shown: each test date's accounts scored
with the prior fitted on the established accounts of that fold's latest training date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from components.scoring.finalize import latest_skill_prior, probability_of_skill_of
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

if TYPE_CHECKING:
    from components.ranking.walk_forward import Fold

SKILL = "skill"
N_BINS = 10


@dataclass(frozen=True)
class Calibration:
    """The reliability of probabilities against truth.

    Attributes:
        table: One row per non-empty probability bin: ``bin`` (its range), ``accounts``, ``mean_probability``
            and ``skilled_share`` (the observed share of truly skilled accounts).
        ece: Expected calibration error, the accounts-weighted mean of |skilled_share − mean_probability|.
        brier: Brier score, the mean of (probability − skilled)².
        accounts: How many accounts (with a probability) were judged.
    """

    table: pd.DataFrame
    ece: float
    brier: float
    accounts: int

    def metrics(self) -> dict[str, float]:
        """What MLflow logs: ``calibration_ece``, ``calibration_brier``, ``calibration_accounts``."""
        return {
            "calibration_ece": self.ece,
            "calibration_brier": self.brier,
            "calibration_accounts": self.accounts,
        }


def calibration(skilled: ArrayLike, probability: ArrayLike, *, n_bins: int = N_BINS) -> Calibration:
    """Reliability table, ECE and Brier score of `probability` against the booleans `skilled`.

    Bins are of equal width in [0, 1] (sklearn's ``calibration_curve``, strategy "uniform"); accounts
    without a probability (NaN) are left out.

    Raises:
        ValueError: Lengths differ, or no account has a probability.

    Example:
        >>> result = calibration([True, False, False, True], [0.9, 0.1, 0.1, 0.7], n_bins=2)
        >>> result.table[["accounts", "mean_probability", "skilled_share"]].values.tolist()
        [[2.0, 0.1, 0.0], [2.0, 0.8, 1.0]]
        >>> round(result.ece, 3), round(result.brier, 3)  # (2·0.1 + 2·0.2) / 4; (0.01·3 + 0.09) / 4
        (0.15, 0.03)
    """
    skilled, probability = np.asarray(skilled, dtype=bool), np.asarray(probability, dtype=float)
    if skilled.shape != probability.shape:
        raise ValueError(f"got {skilled.shape} truths for {probability.shape} probabilities")
    known = np.isfinite(probability)
    if not known.any():
        raise ValueError("calibration needs at least one account with a probability of skill")
    skilled, probability = skilled[known], probability[known]
    observed, predicted = calibration_curve(skilled, probability, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.clip(np.searchsorted(edges[1:-1], probability), 0, n_bins - 1), minlength=n_bins)
    occupied = np.flatnonzero(counts)  # calibration_curve bins alike and drops the empty bins
    table = pd.DataFrame(
        {
            "bin": [f"{edges[b]:.1f}-{edges[b + 1]:.1f}" for b in occupied],
            "accounts": counts[occupied].astype(float),
            "mean_probability": predicted,
            "skilled_share": observed,
        }
    )
    ece = float(np.sum(table["accounts"] * np.abs(observed - predicted)) / len(probability))
    return Calibration(table, ece, float(brier_score_loss(skilled, probability)), int(len(probability)))


def out_of_sample_probabilities(
    frame: pd.DataFrame, folds: Iterable[Fold], *, min_track_record_days: int
) -> pd.DataFrame:
    """The probability of skill of each test date's established accounts, with the prior of its fold.

    Each fold's prior is fitted as training fits the shipped one (`latest_skill_prior`: the established
    accounts of the fold's latest training date), so no test date informs its own probabilities.

    Args:
        frame: The modelling frame: account, as-of date, the scoring features and ``skill``.
        folds: The walk-forward folds.
        min_track_record_days: Below this many daily returns an account is not established.

    Returns:
        (account_id, as_of_date, probability_of_skill, skilled) of every established test row.
    """
    established = frame[frame["track_record_days"] >= max(min_track_record_days, 1)]
    rows = []
    for fold in folds:
        prior = latest_skill_prior(established[established[EVENT_TIMESTAMP].isin(fold.train_dates)])
        test = established[established[EVENT_TIMESTAMP] == fold.test_date]
        rows.append(
            pd.DataFrame(
                {
                    ENTITY_KEY: test[ENTITY_KEY].to_numpy(),
                    EVENT_TIMESTAMP: test[EVENT_TIMESTAMP].to_numpy(),
                    "probability_of_skill": probability_of_skill_of(test, prior),
                    "skilled": test[SKILL].to_numpy(dtype=float) > 0,
                }
            )
        )
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, "probability_of_skill", "skilled"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def walk_forward_calibration(
    frame: pd.DataFrame, folds: Iterable[Fold], *, min_track_record_days: int
) -> Calibration | None:
    """`calibration` of the walk-forward's out-of-sample probabilities; None without latent skill in
    `frame` or without any established test account that has a probability."""
    if SKILL not in frame or not frame[SKILL].notna().any():
        return None
    scored = out_of_sample_probabilities(frame, folds, min_track_record_days=min_track_record_days)
    if not scored["probability_of_skill"].notna().any():
        return None
    return calibration(scored["skilled"], scored["probability_of_skill"])
