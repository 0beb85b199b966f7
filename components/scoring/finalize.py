"""Turn raw model predictions into the feed's ordering key: one function for batch and serving.

The batch `scores/` table and the KServe transformer both call `finalize_scores`, with the same
`ScoringConstants` (fitted at training time by `fit_scoring_constants`, stored as model-version tags and
returned by the predictor), so the feed orders investors exactly as `scores/` does for the same
features and model. For each account, `finalize_scores`:

1. puts the raw score in standardized units, ``z = raw / score_scale``. One unit is one cross-sectional
   standard deviation of the model's score over the established training accounts, and is taken to be
   worth one unit of annualised Sharpe ratio (the spread of 12-month Sharpe ratios across accounts is of
   that order), so that the standard error of the account's Sharpe ratio can weigh it;
2. shrinks z toward the population's prior (empirical Bayes, `components.scoring.shrinkage`) by the standard
   error of an annualised Sharpe ratio measured on the account's track record: a short record is pulled
   toward the prior mean, a long one keeps its score. The weight of its own evidence is the confidence;
3. subtracts the concentration penalty ``concentration_penalty · max(0, hhi − 0.5)``: an HHI above 0.5
   means the account is effectively in fewer than two stocks, and one hot stock (a GameStop) earns
   returns that say nothing about skill;
4. gives accounts below ``min_track_record_days`` the neutral score and status ``new``;
5. reports the probability of skill: the posterior probability that the account's edge over the
   platform's equal-weight universe is positive, from the t-stat of that alpha since inception and the
   population's prior of edges, an empirical-Bayes mixture whose share of no-skill accounts is found in
   the data (`components.scoring.skill_probability`). Market-relative, it does not rise with a bull
   market, and it does not move with the platform's size. NaN where there is no t-stat (fewer than a
   month of returns); a short record stays near the prior's share of skilled accounts;
6. flags ``fdr_pass``: Benjamini–Hochberg at a false discovery rate of `FDR_ALPHA` on the same
   evidence's one-sided p-values ``1 − Φ(t / σ0)`` (σ0: the spread of a no-skill t-stat, 1 or wider,
   measured with the prior). The BH cut-off is found once on the training population and stored, so
   that batch and the feed flag the same accounts; on a world where nobody is skilled, BH flags anyone
   at all with a probability of at most `FDR_ALPHA`;
7. keeps the Deflated Sharpe Ratio for the question it answers, as ``dsr_vs_best_of_n``: could this
   12-month Sharpe ratio be the best that luck alone shows among the ``competing_accounts`` investors a
   feed picks from (the feed's leader against the luckiest of N)? It is not a probability of skill.

Both the prior and the cut-off are fitted on the established accounts of the training population's
latest date (`luck_constants`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from components.config import registry
from components.errors import DataError
from components.scoring.luck import bh_cutoff, dsr_of_12m_sharpe, per_day_sharpe
from components.scoring.shrinkage import (
    EmpiricalBayesShrinkage,
    posterior_means,
    score_standard_error,
    shrinkage_weights,
)
from components.scoring.skill_probability import SKILL_EVIDENCE, SkillPrior, fit_skill_prior
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, SCORING_INPUTS

TRADING_DAYS_PER_YEAR = 252
STATUS_NEW = "new"
STATUS_ESTABLISHED = "established"
CONCENTRATION_THRESHOLD = 0.5  # the HHI of two equal positions
FDR_ALPHA = 0.1
SCORING_FEATURES = SCORING_INPUTS  # the scoring_v1 feature service (the evidence of skill among them)
COLUMNS = [
    ENTITY_KEY,
    "score",
    "confidence",
    "status",
    "probability_of_skill",
    "fdr_pass",
    "dsr_vs_best_of_n",
]
# Fitted where no established account has a t-stat yet: nothing says anyone is skilled.
NO_EVIDENCE_PRIOR = SkillPrior(edges=(0.0,), weights=(1.0,))


@dataclass(frozen=True)
class ScoringConstants:
    """The per-model numbers of `finalize_scores`, stored as model-version tags (see `to_tags`).

    Args:
        neutral_score: Final score of ``new`` accounts (standardized units; training uses the prior mean).
        prior_mean: Mean of the population's prior, in standardized units.
        prior_variance: Variance of the population's prior (> 0), in standardized units squared.
        score_scale: Raw-score units per standardized unit (> 0).
        min_track_record_days: Below this many daily returns an account is ``new``.
        concentration_penalty: Score subtracted per unit of HHI above 0.5 (>= 0).
        competing_accounts: N of the Deflated Sharpe Ratio: established accounts the feed picks from (>= 1).
        sharpe_variance: Variance of their per-day 12-month Sharpe ratios (>= 0), the DSR's V.
        fdr_p_cutoff: Benjamini–Hochberg's cut-off of the skill evidence's p-values on the training
            population, in [0, 1].
        skill_prior: The population's prior of edges behind the probability of skill (one JSON tag);
            by default all of it at 0, the prior of a population without evidence.

    Example:
        >>> constants = ScoringConstants.from_tags({"neutral_score": "0.5", "prior_mean": "0.5",
        ...     "prior_variance": "0.2", "score_scale": "0.1", "min_track_record_days": "63",
        ...     "concentration_penalty": "1.0", "competing_accounts": "15000", "sharpe_variance": "0.004",
        ...     "fdr_p_cutoff": "0.01", "train_end": "2021-06-30",
        ...     "skill_prior": '{"edges":[0.0,1.0],"weights":[0.9,0.1],"null_scale":1.0}'})
        >>> constants.competing_accounts, constants.skill_prior.no_skill_share
        (15000, 0.9)
    """

    neutral_score: float
    prior_mean: float
    prior_variance: float
    score_scale: float
    min_track_record_days: int
    concentration_penalty: float
    competing_accounts: int
    sharpe_variance: float
    fdr_p_cutoff: float
    skill_prior: SkillPrior = NO_EVIDENCE_PRIOR

    def __post_init__(self):
        values = self._numbers()
        if not all(math.isfinite(value) for value in values.values()):
            raise ValueError(f"scoring constants must be finite numbers, got {values}")
        if self.prior_variance <= 0 or self.score_scale <= 0:
            raise ValueError(
                f"prior_variance and score_scale must be positive, got {self.prior_variance} and "
                f"{self.score_scale}"
            )
        if self.min_track_record_days < 0 or self.concentration_penalty < 0:
            raise ValueError(
                f"min_track_record_days and concentration_penalty must be non-negative, got "
                f"{self.min_track_record_days} and {self.concentration_penalty}"
            )
        if self.competing_accounts < 1 or self.sharpe_variance < 0 or not 0 <= self.fdr_p_cutoff <= 1:
            raise ValueError(
                f"competing_accounts must be >= 1, sharpe_variance >= 0 and fdr_p_cutoff in [0, 1], got "
                f"{self.competing_accounts}, {self.sharpe_variance} and {self.fdr_p_cutoff}"
            )

    def _numbers(self) -> dict[str, float | int]:
        return {
            field.name: getattr(self, field.name) for field in fields(self) if field.name != "skill_prior"
        }

    def to_tags(self) -> dict[str, str]:
        """Model-version tags, one per constant (floats written by `repr`, which reads back exactly; the
        skill prior as its compact JSON)."""
        numbers = {TAGS[name]: repr(value) for name, value in self._numbers().items()}
        return numbers | {TAGS["skill_prior"]: self.skill_prior.to_json()}

    def to_dict(self) -> dict[str, float | int | str]:
        """The constants by tag name, numbers and the prior's JSON: what the predictor puts in its reply."""
        numbers = {TAGS[name]: value for name, value in self._numbers().items()}
        return numbers | {TAGS["skill_prior"]: self.skill_prior.to_json()}

    @classmethod
    def from_tags(cls, tags: Mapping[str, object]) -> ScoringConstants:
        """Read the constants from model-version tags (strings) or a reply's numbers; other keys are ignored.

        Raises:
            ValueError: A constant is missing, not a number, or the skill prior is not its JSON.
        """
        missing = [tag for tag in TAGS.values() if tag not in tags]
        if missing:
            raise ValueError(
                f"the scoring constants {missing} are missing; a model version needs every tag of "
                "ScoringConstants.to_tags() (train it again to have them)"
            )
        values = {}
        for field in fields(cls):
            raw = tags[TAGS[field.name]]
            try:
                if field.name == "skill_prior":
                    values[field.name] = SkillPrior.from_json(raw)
                else:
                    values[field.name] = int(raw) if field.type == "int" else float(raw)
            except (TypeError, ValueError) as e:
                raise ValueError(
                    f"scoring constant {TAGS[field.name]}={str(raw)[:80]!r} is unusable: {e}"
                ) from e
        return cls(**values)


TAGS: dict[str, str] = {
    "neutral_score": registry.TAG_NEUTRAL_SCORE,
    "prior_mean": registry.TAG_PRIOR_MEAN,
    "prior_variance": registry.TAG_PRIOR_VARIANCE,
    "score_scale": registry.TAG_SCORE_SCALE,
    "min_track_record_days": registry.TAG_MIN_TRACK_RECORD_DAYS,
    "concentration_penalty": registry.TAG_CONCENTRATION_PENALTY,
    "competing_accounts": registry.TAG_COMPETING_ACCOUNTS,
    "sharpe_variance": registry.TAG_SHARPE_VARIANCE,
    "fdr_p_cutoff": registry.TAG_FDR_P_CUTOFF,
    "skill_prior": registry.TAG_SKILL_PRIOR,
}


def finalize_scores(
    features: pd.DataFrame, raw_scores: ArrayLike, *, constants: ScoringConstants
) -> pd.DataFrame:
    """Final score, confidence, status, probability of skill and FDR flag per account.

    Args:
        features: One row per account: ``account_id`` and the `SCORING_FEATURES` (other columns ignored).
        raw_scores: The ranking model's predictions, aligned with the rows of `features`.
        constants: The serving model's constants.

    Returns:
        DataFrame with the `COLUMNS` account_id, score, confidence (the shrinkage weight in [0, 1]; 0 for
        ``new`` accounts, whose score is not their own evidence), status, probability_of_skill (NaN
        without the skill evidence's t-stat), fdr_pass and dsr_vs_best_of_n (NaN below 2 daily
        returns), sorted by score descending, ties broken by account_id.

    Raises:
        DataError: `features` lacks some of the `SCORING_FEATURES`.
        ValueError: `raw_scores` and `features` differ in length.

    Example:
        >>> constants = ScoringConstants(neutral_score=0.0, prior_mean=0.0, prior_variance=1.0,
        ...     score_scale=1.0, min_track_record_days=63, concentration_penalty=1.0,
        ...     competing_accounts=1000, sharpe_variance=0.004, fdr_p_cutoff=0.01,
        ...     skill_prior=SkillPrior(edges=(0.0, 1.0), weights=(0.8, 0.2)))
        >>> features = pd.DataFrame({"account_id": ["a", "b"], "track_record_days": [252.0, 10.0],
        ...     "returns_12m": [252.0, 10.0], "sharpe_12m": [0.0, 2.0], "skew_12m": [0.0, 0.0],
        ...     "kurtosis_12m": [3.0, 3.0], "hhi": [0.2, 0.2], "universe_alpha_tstat_inception": [3.0, None]})
        >>> finalize_scores(features, [2.0, 5.0], constants=constants)[["account_id", "score",
        ...     "confidence", "status"]].values.tolist()  # w = 1 / (1 + 1²) for a's year of returns
        [['a', 1.0, 0.5, 'established'], ['b', 0.0, 0.0, 'new']]
        >>> finalize_scores(features, [2.0, 5.0], constants=constants)[["probability_of_skill",
        ...     "fdr_pass"]].round(3).values.tolist()  # a: t = 3 on a year; b: no t-stat yet
        [[0.753, True], [nan, False]]
    """
    require_scoring_features(features)
    raw = np.asarray(raw_scores, dtype=float)
    if raw.shape != (len(features),):
        raise ValueError(f"got {raw.shape[0] if raw.ndim else 1} raw scores for {len(features)} accounts")
    days = np.nan_to_num(features["track_record_days"].to_numpy(dtype=float), nan=0.0)
    sharpe = np.nan_to_num(features["sharpe_12m"].to_numpy(dtype=float), nan=0.0)
    standard_errors = score_standard_error(days, sharpe)
    shrunk = posterior_means(
        raw / constants.score_scale, standard_errors, constants.prior_mean, constants.prior_variance
    )
    score = shrunk - concentration_penalty(features["hhi"], constants.concentration_penalty)
    is_new = days < constants.min_track_record_days
    frame = pd.DataFrame(
        {
            ENTITY_KEY: pd.Series(features[ENTITY_KEY], dtype="string").to_numpy(),
            "score": np.where(is_new, constants.neutral_score, score),
            "confidence": np.where(is_new, 0.0, shrinkage_weights(standard_errors, constants.prior_variance)),
            "status": np.where(is_new, STATUS_NEW, STATUS_ESTABLISHED),
            "probability_of_skill": probability_of_skill(features, constants),
            "fdr_pass": constants.skill_prior.p_values(features[SKILL_EVIDENCE]) <= constants.fdr_p_cutoff,
            "dsr_vs_best_of_n": dsr_of_12m_sharpe(
                features, constants.competing_accounts, constants.sharpe_variance
            ),
        }
    )
    return rank_order(frame)


def fit_scoring_constants(
    features: pd.DataFrame,
    raw_scores: ArrayLike,
    *,
    min_track_record_days: int,
    concentration_penalty: float,
) -> ScoringConstants:
    """The constants of a model from its raw scores of `features` rows (e.g. its training rows).

    Only established accounts (at least `min_track_record_days` daily returns) count: ``score_scale``
    is the standard deviation of their raw scores (1 if they are all equal), and the prior is
    `EmpiricalBayesShrinkage` fitted on their standardized scores and Sharpe standard errors. New
    accounts get the prior mean: what the population says of an account with no evidence of its own.
    The luck controls are fitted on the established accounts of the latest date (all rows without
    ``as_of_date``): the prior of edges, the BH cut-off of the skill evidence's p-values, and for the
    DSR how many compete and the variance of their Sharpe ratios (`luck_constants`).

    Raises:
        DataError: `features` lacks ``track_record_days`` or another of the `SCORING_FEATURES`.
        ValueError: Fewer than 2 established accounts, or lengths differ.

    Example:
        >>> features = pd.DataFrame({"account_id": list("abcd"),
        ...     "track_record_days": [252.0, 252.0, 252.0, 5.0], "returns_12m": 252.0, "sharpe_12m": 0.0,
        ...     "skew_12m": 0.0, "kurtosis_12m": 3.0, "hhi": 0.2, "universe_alpha_tstat_inception": 0.0})
        >>> constants = fit_scoring_constants(features, [1.0, 3.0, 5.0, 9.0], min_track_record_days=63,
        ...                                   concentration_penalty=1.0)
        >>> constants.score_scale, constants.prior_mean, constants.prior_variance  # var(z) 1, mean se² 1
        (2.0, 1.5, 0.0001)
    """
    require_scoring_features(features)
    raw = np.asarray(raw_scores, dtype=float)
    if raw.shape != (len(features),):
        raise ValueError(f"got {raw.shape[0] if raw.ndim else 1} raw scores for {len(features)} accounts")
    days = np.nan_to_num(features["track_record_days"].to_numpy(dtype=float), nan=0.0)
    established = days >= max(min_track_record_days, 1)
    if established.sum() < 2:
        raise ValueError(
            f"fitting the scoring constants needs at least 2 accounts with {min_track_record_days} or more "
            f"daily returns, got {established.sum()}"
        )
    spread = float(np.std(raw[established], ddof=1))
    scale = spread if spread > 0 else 1.0
    sharpe = np.nan_to_num(features["sharpe_12m"].to_numpy(dtype=float)[established], nan=0.0)
    prior = EmpiricalBayesShrinkage().fit(
        raw[established] / scale, score_standard_error(days[established], sharpe)
    )
    return ScoringConstants(
        neutral_score=prior.prior_mean_,
        prior_mean=prior.prior_mean_,
        prior_variance=prior.prior_variance_,
        score_scale=scale,
        min_track_record_days=int(min_track_record_days),
        concentration_penalty=float(concentration_penalty),
        **luck_constants(features[established]),
    )


def luck_constants(established: pd.DataFrame) -> dict[str, float | int | SkillPrior]:
    """From the latest date's established rows: the prior of edges and the BH cut-off of the skill
    evidence, and N and V of the Deflated Sharpe Ratio."""
    established = latest_date(established)
    prior = latest_skill_prior(established)
    sharpe = per_day_sharpe(established)
    tested = sharpe[np.isfinite(sharpe)]
    return {
        "competing_accounts": max(len(tested), 1),
        "sharpe_variance": float(np.var(tested, ddof=1)) if len(tested) > 1 else 0.0,
        "fdr_p_cutoff": bh_cutoff(prior.p_values(established[SKILL_EVIDENCE]), alpha=FDR_ALPHA),
        "skill_prior": prior,
    }


def latest_skill_prior(established: pd.DataFrame) -> SkillPrior:
    """The prior of edges (`fit_skill_prior`) of the latest date's established rows.

    One date, so that each account counts once (its t-stats of successive months are nearly the same
    evidence). Without any t-stat among them, nobody is taken to be skilled (`NO_EVIDENCE_PRIOR`).
    """
    established = latest_date(established)
    evidence = established[SKILL_EVIDENCE].to_numpy(dtype=float)
    days = np.nan_to_num(established["track_record_days"].to_numpy(dtype=float), nan=0.0)
    if not np.any(np.isfinite(evidence) & (days > 0)):
        return NO_EVIDENCE_PRIOR
    return fit_skill_prior(evidence, days)


def latest_date(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the latest as-of date (all of them without ``as_of_date``)."""
    if EVENT_TIMESTAMP not in rows.columns:
        return rows
    return rows[rows[EVENT_TIMESTAMP] == rows[EVENT_TIMESTAMP].max()]


def require_scoring_features(features: pd.DataFrame) -> None:
    """Raise a KeyError naming the `SCORING_FEATURES` (and account id) that `features` lacks."""
    missing = [c for c in [ENTITY_KEY, *SCORING_FEATURES] if c not in features.columns]
    if missing:
        raise DataError(
            f"finalize_scores needs the columns {missing}, which the frame lacks (skew_12m, kurtosis_12m and "
            f"{SKILL_EVIDENCE} come from the Spark feature job; see feature_repo/feature_schema.py)"
        )


def concentration_penalty(hhi: ArrayLike, penalty: float) -> np.ndarray:
    """``penalty · max(0, hhi − 0.5)``: nothing for two or more equal positions; a missing HHI costs nothing.

    Example:
        >>> concentration_penalty([1.0, 0.75, 0.3, float("nan")], 2.0).tolist()
        [1.0, 0.5, 0.0, 0.0]
    """
    excess = np.nan_to_num(np.asarray(hhi, dtype=float) - CONCENTRATION_THRESHOLD, nan=0.0)
    return penalty * np.maximum(excess, 0.0)


def probability_of_skill(features: pd.DataFrame, constants: ScoringConstants) -> np.ndarray:
    """Posterior probability that each account's edge over the platform universe is positive, from its
    `SKILL_EVIDENCE` t-stat and track record under the model's prior of edges; NaN without a t-stat.

    Raises:
        DataError: `features` lacks some of the `SCORING_FEATURES`.
    """
    require_scoring_features(features)
    return probability_of_skill_of(features, constants.skill_prior)


def probability_of_skill_of(features: pd.DataFrame, prior: SkillPrior) -> np.ndarray:
    """`SkillPrior.probability_of_skill` of the rows' `SKILL_EVIDENCE` and ``track_record_days``."""
    return prior.probability_of_skill(features[SKILL_EVIDENCE], features["track_record_days"])


def rank_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by score descending with account_id as the tie-break, the one order used everywhere."""
    return frame.sort_values(["score", "account_id"], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )
