"""The evaluation gate: is there evidence that the challenger beats the baseline and is no worse than the
champion? A pure decision.

Each rule reads the 95% paired-bootstrap confidence interval of the per-fold NDCG@100 difference
(challenger − rival, fold by fold), not its mean: on a handful of test months a positive mean is often
noise, and promoting on it would ship a model no better than what it replaces.

- **Superiority over the baseline** (the first model, a heuristic ranking): the CI's lower bound must be
  above 0. Without it there is no evidence the model ranks better than the heuristic it replaces.
- **Non-inferiority to the champion**: the CI's lower bound must not fall below ``−margin``
  (`Settings.non_inferiority_margin`). A retrained model brings fresher data; it need not be proven
  better, only shown not to be materially worse.
- **Guardrails**: a measured value at most its limit.

The first rule that fails decides the verdict (`GateDecision.rule`). When the challenger is not promoted
the champion keeps serving; with no champion the feed serves the heuristic ranking, and says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import bootstrap

BASELINE = "baseline"
CHAMPION = "champion"
ALL_RULES_HELD = "every rule held"


@dataclass
class GateDecision:
    """The verdict, the rule that decided it, its reasons in words, and the numbers behind it."""

    promote: bool
    reasons: list[str]
    numbers: dict[str, float] = field(default_factory=dict)
    rule: str = ALL_RULES_HELD
    has_champion: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        """The verdict, what keeps serving, and its reasons in one line.

        Example:
            >>> GateDecision(False, ["no evidence it beats the baseline"],
            ...              rule="superiority over the baseline", has_champion=False).headline()
            'KEEP HEURISTIC (decided by superiority over the baseline): no evidence it beats the baseline'
        """
        kept = "KEEP CHAMPION" if self.has_champion else "KEEP HEURISTIC"
        verdict = "PROMOTE" if self.promote else kept
        return f"{verdict} (decided by {self.rule}): " + "; ".join(self.reasons)

    def to_markdown(self) -> str:
        """The reasons as a Markdown list (the gate step's verdict in the Kubeflow UI)."""
        return "\n".join([f"**{self.headline().split(':', 1)[0]}**", *(f"- {r}" for r in self.reasons)])


def paired_difference(candidate: list[float], other: list[float], seed: int = 0) -> dict[str, float]:
    """Mean per-fold difference candidate - other, with a 95% paired-bootstrap confidence interval.

    Fewer than 2 finite differences give no interval (NaN bounds): no rule can be shown to hold.
    """
    diffs = np.asarray(candidate, dtype=float) - np.asarray(other, dtype=float)
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) < 2:
        mean = float(diffs.mean()) if len(diffs) else float("nan")
        return {"mean_diff": mean, "ci_low": float("nan"), "ci_high": float("nan")}
    ci = bootstrap(
        (diffs,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile", random_state=seed
    ).confidence_interval
    return {"mean_diff": float(diffs.mean()), "ci_low": float(ci.low), "ci_high": float(ci.high)}


def rule_name(rival: str) -> str:
    """The rule a rival is judged by: superiority over the baseline, non-inferiority to the champion."""
    return f"non-inferiority to the {rival}" if rival == CHAMPION else f"superiority over the {rival}"


def rival_holds(rival: str, ci_low: float, margin: float) -> bool:
    """Whether the CI's lower bound clears the rival's bar: > 0 (superiority) or >= −margin (champion)."""
    if not np.isfinite(ci_low):
        return False
    return bool(ci_low >= -margin) if rival == CHAMPION else bool(ci_low > 0)


def gate(
    comparisons: dict[str, tuple[list[float], list[float]]],
    guardrails: dict[str, tuple[float, float]] | None = None,
    target: str = "label",
    non_inferiority_margin: float = 0.01,
) -> GateDecision:
    """Promote only with evidence: the CI of the NDCG@100 difference above 0 against the baseline, not below
    ``−non_inferiority_margin`` against the champion, and every guardrail within its limit.

    Args:
        comparisons: Rival name (``baseline``, ``champion``) -> (candidate's per-fold NDCG@100,
            rival's per-fold NDCG@100), aligned fold by fold. Leave the champion out when there is none.
        guardrails: Name -> (the candidate's value, the most it may be), e.g. the share of its top 100
            replaced from one month to the next. A value that could not be measured (NaN, e.g. a
            single test date has no month-over-month turnover) is reported and not held against it.
        target: What the NDCG@100 ranks against (``label`` or ``skill``), for the reasons.
        non_inferiority_margin: How far below the champion's NDCG@100 the CI's lower bound may reach.

    Example:
        >>> gate({"baseline": ([0.6, 0.7, 0.65], [0.5, 0.5, 0.5])}).promote
        True
        >>> crossing = gate({"baseline": ([0.6, 0.45, 0.56], [0.5, 0.5, 0.5])})  # mean +0.037, CI crosses 0
        >>> crossing.promote, crossing.rule
        (False, 'superiority over the baseline')
        >>> gate({"baseline": ([0.6, 0.7], [0.5, 0.5]), "champion": ([0.6, 0.7], [0.7, 0.8])}).rule
        'non-inferiority to the champion'
    """
    numbers: dict[str, float] = {"non_inferiority_margin": float(non_inferiority_margin)}
    reasons, failed = [], []
    for rival, (candidate, scores) in comparisons.items():
        diff = paired_difference(candidate, scores)
        numbers |= {
            f"{rival}_mean": float(np.nanmean(scores)),
            f"candidate_mean_vs_{rival}": float(np.nanmean(candidate)),
        }
        numbers |= {f"vs_{rival}_{k}": v for k, v in diff.items()}
        holds = rival_holds(rival, diff["ci_low"], non_inferiority_margin)
        if not holds:
            failed.append(rule_name(rival))
        reasons.append(rival_reason(rival, holds, diff, len(candidate), target, non_inferiority_margin))
    for name, (value, limit) in (guardrails or {}).items():
        numbers[f"guardrail_{name}_limit"] = float(limit)
        if not np.isfinite(value):
            reasons.append(f"{name} could not be measured: guardrail not applied")
            continue
        holds = bool(value <= limit)
        if not holds:
            failed.append(f"the {name} guardrail")
        numbers[f"guardrail_{name}"] = float(value)
        reasons.append(f"{name} {value:.4f} {'is within' if holds else 'exceeds'} its limit {limit:.4f}")
    has_champion = CHAMPION in comparisons
    if not has_champion:
        reasons.append(
            "there is no champion yet" + ("" if not failed else ": the feed serves the heuristic ranking")
        )
    return GateDecision(not failed, reasons, numbers, failed[0] if failed else ALL_RULES_HELD, has_champion)


def rival_reason(
    rival: str, holds: bool, diff: dict[str, float], folds: int, target: str, margin: float
) -> str:
    """One rival's rule in words: the mean difference, its CI and the bar it had to clear."""
    if not np.isfinite(diff["mean_diff"]):  # e.g. against skill on a world where nobody is skilled
        unmeasured = f"NDCG@100 (vs {target}) could not be measured on any of {folds} folds"
        return f"no evidence against the {rival}: {unmeasured}"
    bar = f"lower bound >= -{margin:.4f}" if rival == CHAMPION else "lower bound > 0"
    if rival == CHAMPION:
        verdict = "no worse than the champion" if holds else "may be worse than the champion"
    else:
        verdict = f"beats the {rival}" if holds else f"no evidence it beats the {rival}"
    return (
        f"{verdict}: mean NDCG@100 (vs {target}) difference {diff['mean_diff']:+.4f} over {folds} folds "
        f"(95% paired-bootstrap CI {diff['ci_low']:+.4f} to {diff['ci_high']:+.4f}; needs {bar})"
    )
