"""The evaluation gate: does the challenger beat the baseline and the champion? A pure decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import bootstrap


@dataclass
class GateDecision:
    """The verdict, its reasons in words, and the numbers behind it."""

    promote: bool
    reasons: list[str]
    numbers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        """The verdict and its reasons in one line.

        Example:
            >>> GateDecision(False, ["does not beat the baseline", "there is no champion yet"]).headline()
            'KEEP CHAMPION: does not beat the baseline; there is no champion yet'
        """
        return ("PROMOTE: " if self.promote else "KEEP CHAMPION: ") + "; ".join(self.reasons)

    def to_markdown(self) -> str:
        """The reasons as a Markdown list (the gate step's verdict in the Kubeflow UI)."""
        return "\n".join(f"- {reason}" for reason in self.reasons)


def paired_difference(candidate: list[float], other: list[float], seed: int = 0) -> dict[str, float]:
    """Mean per-fold difference candidate - other, with a 95% paired-bootstrap confidence interval."""
    diffs = np.asarray(candidate, dtype=float) - np.asarray(other, dtype=float)
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) < 2:
        mean = float(diffs.mean()) if len(diffs) else float("nan")
        return {"mean_diff": mean, "ci_low": float("nan"), "ci_high": float("nan")}
    ci = bootstrap(
        (diffs,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile", random_state=seed
    ).confidence_interval
    return {"mean_diff": float(diffs.mean()), "ci_low": float(ci.low), "ci_high": float(ci.high)}


def gate(
    comparisons: dict[str, tuple[list[float], list[float]]],
    guardrails: dict[str, tuple[float, float]] | None = None,
    target: str = "label",
) -> GateDecision:
    """Promote only if the candidate's mean per-fold NDCG@100 beats every rival's on the same folds
    and every guardrail holds.

    Args:
        comparisons: Rival name (``baseline``, ``champion``) -> (candidate's per-fold NDCG@100,
            rival's per-fold NDCG@100), aligned fold by fold. Leave the champion out when there is none.
        guardrails: Name -> (the candidate's value, the most it may be), e.g. the share of its top 100
            replaced from one month to the next. A value that could not be measured (NaN, e.g. a
            single test date has no month-over-month turnover) is reported and not held against it.
        target: What the NDCG@100 ranks against (``label`` or ``skill``), for the reasons.

    Example:
        >>> gate({"baseline": ([0.6, 0.7], [0.5, 0.5])}).promote
        True
        >>> gate({"baseline": ([0.6, 0.7], [0.5, 0.5]), "champion": ([0.6, 0.7], [0.7, 0.8])}).promote
        False
    """
    numbers: dict[str, float] = {}
    reasons, passed = [], True
    for rival, (candidate, scores) in comparisons.items():
        diff = paired_difference(candidate, scores)
        numbers |= {
            f"{rival}_mean": float(np.nanmean(scores)),
            f"candidate_mean_vs_{rival}": float(np.nanmean(candidate)),
        }
        numbers |= {f"vs_{rival}_{k}": v for k, v in diff.items()}
        beats = bool(diff["mean_diff"] > 0)
        passed &= beats
        reasons.append(
            f"{'beats' if beats else 'does not beat'} the {rival}: mean NDCG@100 (vs {target}) difference "
            f"{diff['mean_diff']:+.4f} over {len(candidate)} folds "
            f"(95% paired-bootstrap CI {diff['ci_low']:+.4f} to {diff['ci_high']:+.4f})"
        )
    for name, (value, limit) in (guardrails or {}).items():
        numbers[f"guardrail_{name}_limit"] = float(limit)
        if not np.isfinite(value):
            reasons.append(f"{name} could not be measured: guardrail not applied")
            continue
        holds = bool(value <= limit)
        passed &= holds
        numbers[f"guardrail_{name}"] = float(value)
        reasons.append(f"{name} {value:.4f} {'is within' if holds else 'exceeds'} its limit {limit:.4f}")
    if "champion" not in comparisons:
        reasons.append("there is no champion yet")
    return GateDecision(bool(passed), reasons, numbers)
