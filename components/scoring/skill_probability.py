"""The probability that an investor's edge is real: an empirical-Bayes mixture fitted on the platform.

The evidence is the account's since-inception t-statistic of alpha over the platform's equal-weight
universe (`SKILL_EVIDENCE`): market-relative, so a bull market does not lift it. With θ the account's
annualised edge (an information ratio) and n its daily returns,

    t | θ ~ N(θ · sqrt(n / 252), σ0²).

σ0 is 1 in theory, but on one date the accounts' t-stats share their stocks, their months and fat tails,
and their spread can be wider: σ0 is then measured on the population, as Efron's (2004) empirical null
(`empirical_null_scale`), so that a crowd of lucky records is not read as skill.

The population's edges follow a prior g on a fixed grid of θ (`EDGE_GRID`) that holds a point mass at
exactly 0: the share π0 of accounts with no skill at all. `fit_skill_prior` estimates g from the t-stats
of the platform's own accounts by EM (the Kiefer–Wolfowitz nonparametric maximum likelihood), so π0 is
found in the data as in Barras, Scaillet & Wermers (2010), not assumed. An account's probability of
skill is then the posterior P(θ > 0 | t, n), a closed-form sum over the grid: a short record says little
and stays near the prior's share of skilled accounts, a long one moves toward what its t-stat says.
The same t-stats give one-sided p-values ``1 − Φ(t / σ0)`` for the false-discovery test
(`SkillPrior.p_values`).

References:
    Kiefer, J. & Wolfowitz, J. (1956). Consistency of the maximum likelihood estimator in the presence
    of infinitely many incidental parameters. Annals of Mathematical Statistics 27(4).
    Barras, L., Scaillet, O. & Wermers, R. (2010). False discoveries in mutual fund performance:
    measuring luck in estimated alphas. Journal of Finance 65(1).
    Efron, B. (2004). Large-scale simultaneous hypothesis testing: the choice of a null hypothesis.
    JASA 99(465).
    Koenker, R. & Mizera, I. (2014). Convex optimization, shape constraints, compound decisions, and
    empirical Bayes rules. JASA 109(506).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

SKILL_EVIDENCE = "universe_alpha_tstat_inception"
TRADING_DAYS_PER_YEAR = 252
# Annualised edges from -3 to 3 by 0.1, 0 exactly among them: wider than any trader's information ratio.
EDGE_GRID: tuple[float, ...] = tuple(round(step / 10, 1) for step in range(-30, 31))
IQR_OF_NORMAL = 1.349
STOREY_LAMBDA = 0.5  # p-values above it are mostly of accounts with no edge (Storey, 2002)
_WEIGHT_FLOOR = 1e-7  # a fitted prior drops atoms lighter than this: its JSON stays one short tag
_SUM_TOLERANCE = 1e-6


def evidence_scale(track_record_days: ArrayLike) -> np.ndarray:
    """``sqrt(n / 252)``: how many standard errors one unit of annualised edge moves the t-stat.

    Example:
        >>> evidence_scale([252, 1008, 0]).tolist()
        [1.0, 2.0, 0.0]
    """
    days = np.nan_to_num(np.asarray(track_record_days, dtype=float), nan=0.0)
    return np.sqrt(np.maximum(days, 0.0) / TRADING_DAYS_PER_YEAR)


def p_values(t_stats: ArrayLike, null_scale: float = 1.0) -> np.ndarray:
    """One-sided p-values ``1 − Φ(t / σ0)`` of "no edge" against "a positive edge"; NaN stays NaN.

    Example:
        >>> p_values([0.0, 1.6449, float("nan")]).round(3).tolist()
        [0.5, 0.05, nan]
    """
    return norm.sf(np.asarray(t_stats, dtype=float) / null_scale)


def empirical_null_scale(t_stats: ArrayLike) -> float:
    """σ0 of the t-stats of no-skill accounts, measured on the population: its interquartile range over
    1.349 (the IQR of a standard normal), never below the theoretical 1; NaNs are left out.

    The middle half of the t-stats is mostly accounts without an edge, so their spread is the null's;
    skilled and negative accounts widen it a little, which errs toward "no skill".

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(empirical_null_scale(rng.normal(0, 1.4, 5000)), 1), empirical_null_scale([0.0, 0.1, 0.2])
        (1.4, 1.0)
    """
    t_stats = np.asarray(t_stats, dtype=float)
    t_stats = t_stats[np.isfinite(t_stats)]
    if len(t_stats) < 2:
        return 1.0
    upper, lower = np.percentile(t_stats, [75, 25])
    return float(max((upper - lower) / IQR_OF_NORMAL, 1.0))


def _likelihoods(t_stats: np.ndarray, scale: np.ndarray, edges: np.ndarray, null_scale: float) -> np.ndarray:
    """φ((t_i − θ_g · s_i) / σ0), one row per account and one column per grid edge (up to a factor σ0,
    the same for every edge, which posteriors do not see)."""
    return norm.pdf((t_stats[:, None] - edges[None, :] * scale[:, None]) / null_scale)


@dataclass(frozen=True)
class SkillPrior:
    """The population's prior of the annualised edge θ: `weights` on `edges`, the share at 0 being π0.

    Stored with the model as one compact JSON tag (`to_json`, `from_json`), so batch scores and the
    feed compute the same posterior.

    Args:
        edges: Annualised edges, strictly increasing.
        weights: Their prior probabilities (non-negative, summing to 1).
        null_scale: σ0, the spread of a no-skill account's t-stat (> 0; 1 in theory).

    Example:
        >>> prior = SkillPrior(edges=(0.0, 1.0), weights=(0.8, 0.2))
        >>> prior.no_skill_share, prior.skilled_share
        (0.8, 0.2)
        >>> # four years: 0.2 · φ(3 − 2) / (0.2 · φ(3 − 2) + 0.8 · φ(3)) for t = 3
        >>> prior.probability_of_skill([3.0, 0.0, float("nan")], [1008, 1008, 1008]).round(3).tolist()
        [0.932, 0.033, nan]
    """

    edges: tuple[float, ...]
    weights: tuple[float, ...]
    null_scale: float = 1.0

    def __post_init__(self):
        edges, weights = np.asarray(self.edges, dtype=float), np.asarray(self.weights, dtype=float)
        if edges.shape != weights.shape or edges.ndim != 1 or len(edges) == 0:
            raise ValueError(
                f"a skill prior needs as many weights as edges (at least one), got {len(self.edges)} edges "
                f"and {len(self.weights)} weights"
            )
        if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)):
            raise ValueError(f"the edges of a skill prior must be finite and increasing, got {self.edges}")
        if not (np.all(weights >= 0) and abs(weights.sum() - 1) <= _SUM_TOLERANCE):
            raise ValueError(
                f"the weights of a skill prior must be non-negative and sum to 1, got sum {weights.sum()}"
            )
        if not (math.isfinite(self.null_scale) and self.null_scale > 0):
            raise ValueError(f"the null scale of a skill prior must be positive, got {self.null_scale}")

    @property
    def no_skill_share(self) -> float:
        """π0: the prior share of accounts whose edge is exactly 0."""
        return float(sum(w for e, w in zip(self.edges, self.weights, strict=True) if e == 0))

    @property
    def skilled_share(self) -> float:
        """The prior share of accounts with a positive edge: the probability of an account with no record."""
        return float(sum(w for e, w in zip(self.edges, self.weights, strict=True) if e > 0))

    def probability_of_skill(self, t_stats: ArrayLike, track_record_days: ArrayLike) -> np.ndarray:
        """Posterior P(θ > 0 | t, n) per account; NaN where the t-stat is missing.

        Args:
            t_stats: Each account's t-statistic of its edge (`SKILL_EVIDENCE`).
            track_record_days: The daily returns behind it; 0 (or NaN) gives the prior's skilled share.
        """
        t_stats = np.asarray(t_stats, dtype=float)
        scale = evidence_scale(track_record_days)
        edges, weights = np.asarray(self.edges), np.asarray(self.weights)
        probability = np.full(t_stats.shape, np.nan)
        tested = np.isfinite(t_stats)
        joint = _likelihoods(t_stats[tested], scale[tested], edges, self.null_scale) * weights
        with np.errstate(invalid="ignore"):  # a t-stat beyond every edge's reach: 0 / 0, said below
            posterior = joint[:, edges > 0].sum(axis=1) / joint.sum(axis=1)
        # So far out that every likelihood underflows: the sign of t decides.
        probability[tested] = np.where(np.isfinite(posterior), posterior, (t_stats[tested] > 0) * 1.0)
        return probability

    def p_values(self, t_stats: ArrayLike) -> np.ndarray:
        """`p_values` of the t-stats under this prior's null: what ``fdr_pass`` tests."""
        return p_values(t_stats, self.null_scale)

    def to_json(self) -> str:
        """Compact JSON ``{"edges": [...], "weights": [...], "null_scale": σ0}``; `from_json` reads it back
        exactly.

        Example:
            >>> SkillPrior(edges=(0.0, 1.0), weights=(0.75, 0.25)).to_json()
            '{"edges":[0.0,1.0],"weights":[0.75,0.25],"null_scale":1.0}'
        """
        stored = {"edges": list(self.edges), "weights": list(self.weights), "null_scale": self.null_scale}
        return json.dumps(stored, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: object) -> SkillPrior:
        """The prior of `to_json`'s text.

        Raises:
            ValueError: The text is not such a JSON object, or its edges and weights are not a prior.
        """
        try:
            stored = json.loads(str(text))
            edges = tuple(float(e) for e in stored["edges"])
            weights = tuple(float(w) for w in stored["weights"])
            null_scale = float(stored["null_scale"])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(
                f'a skill prior is JSON {{"edges": [...], "weights": [...], "null_scale": ...}}, got '
                f"{str(text)[:80]!r}"
            ) from e
        return cls(edges=edges, weights=weights, null_scale=null_scale)


def no_skill_share(t_stats: ArrayLike, *, lam: float = STOREY_LAMBDA, null_scale: float = 1.0) -> float:
    """Storey's estimate of π0, the share of accounts with no edge: ``#{p > λ} / (m · (1 − λ))``, at most 1.

    Two-sided p-values of the null are uniform, so above λ they hold a share 1 − λ of the null
    accounts and few skilled or negative ones: the estimate errs high (toward "no skill"), never low
    on average. NaN t-stats are left out.

    Raises:
        ValueError: No t-stat, or `lam` outside (0, 1).

    Example:
        >>> round(no_skill_share(np.random.default_rng(0).normal(size=10_000)), 2)
        1.0
    """
    if not 0 < lam < 1:
        raise ValueError(f"lam must be in (0, 1), got {lam}")
    t_stats = np.asarray(t_stats, dtype=float)
    t_stats = t_stats[np.isfinite(t_stats)]
    if len(t_stats) == 0:
        raise ValueError("estimating the no-skill share needs at least one t-stat")
    two_sided = 2 * norm.sf(np.abs(t_stats) / null_scale)
    return float(min(np.mean(two_sided > lam) / (1 - lam), 1.0))


def fit_skill_prior(
    t_stats: ArrayLike,
    track_record_days: ArrayLike,
    *,
    edges: tuple[float, ...] = EDGE_GRID,
    null_scale: float | None = None,
    max_iter: int = 5000,
    tol: float = 1e-7,
) -> SkillPrior:
    """The prior of the accounts' edges: π0 at 0 (`no_skill_share`), the rest by maximum likelihood,
    under the population's null scale (`empirical_null_scale`).

    The weight of the point mass at 0 is Storey's estimate, as in Barras, Scaillet & Wermers (2010):
    left free, the likelihood cannot tell an edge of exactly 0 from one of 0.1 on records of a few
    years, and would spread the null accounts over small edges of both signs, half of them "skilled".
    The other edges share ``1 − π0`` by EM (the Kiefer–Wolfowitz nonparametric maximum likelihood with
    the weight at 0 held fixed): each step gives every edge a share proportional to the accounts'
    posterior probabilities of it. The likelihood is concave in the weights, so EM climbs to its
    maximum from the uniform start; it stops when no weight moves by more than `tol`. Accounts
    without a t-stat or a track record are left out.

    Args:
        t_stats: The accounts' t-statistics of their edge.
        track_record_days: The daily returns behind each.
        edges: The grid of annualised edges, 0 among them.
        null_scale: σ0 if known (1: the theoretical null); None measures it (`empirical_null_scale`).
        max_iter: Most EM steps.
        tol: Largest change of a weight at which EM stops.

    Raises:
        ValueError: Lengths differ, 0 is not an edge, or no account has both a t-stat and a track record.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> skilled = rng.random(4000) < 0.3
        >>> t = rng.normal(np.where(skilled, 1.5, 0.0) * 2.0, 1.0)  # four-year records: s = 2
        >>> prior = fit_skill_prior(t, np.full(4000, 1008.0), null_scale=1.0)  # the null drawn: N(0, 1)
        >>> round(prior.no_skill_share, 2), round(prior.skilled_share, 2)
        (0.7, 0.3)
    """
    t_stats = np.asarray(t_stats, dtype=float)
    scale = evidence_scale(track_record_days)
    if t_stats.shape != scale.shape:
        raise ValueError(f"got {t_stats.shape} t-stats for {scale.shape} track records")
    grid = np.asarray(edges, dtype=float)
    if not np.any(grid == 0):
        raise ValueError("the edges of a skill prior must include 0, the edge of no skill")
    usable = np.isfinite(t_stats) & (scale > 0)
    if not usable.any():
        raise ValueError(
            "fitting the skill prior needs at least one account with a t-stat and a track record"
        )
    if null_scale is None:
        null_scale = empirical_null_scale(t_stats[usable])
    null_share = no_skill_share(t_stats[usable], null_scale=null_scale)
    is_null = grid == 0
    likelihoods = _likelihoods(t_stats[usable], scale[usable], grid, null_scale)
    weights = np.where(is_null, null_share, (1 - null_share) / (len(grid) - 1))
    for _ in range(max_iter):
        if null_share == 1:
            break
        joint = likelihoods * weights
        responsibilities = (joint / joint.sum(axis=1, keepdims=True).clip(min=1e-300)).sum(axis=0)
        alternatives = np.where(is_null, 0.0, responsibilities)
        updated = np.where(is_null, null_share, (1 - null_share) * alternatives / alternatives.sum())
        converged = np.max(np.abs(updated - weights)) < tol
        weights = updated
        if converged:
            break
    kept = weights >= _WEIGHT_FLOOR
    weights = weights[kept] / weights[kept].sum()
    return SkillPrior(
        edges=tuple(float(e) for e in grid[kept]),
        weights=tuple(float(w) for w in weights),
        null_scale=null_scale,
    )
