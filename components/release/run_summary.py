"""After a run: what came in, how the model and the baseline did, what the gate decided."""

from __future__ import annotations

import json

import pandas as pd
from mlflow import MlflowClient

from components.config import registry
from components.config.settings import Settings
from components.ranking.baselines import BASELINES
from components.release.champion import champion_version

SCORERS = ["model", "ceiling", "survivors_only", *BASELINES]


def run_summary(settings: Settings, client: MlflowClient) -> str:
    """Reconciliation counts, walk-forward means, the gate verdict and the champion, as text to print."""
    counts = json.loads(settings.layout.reconciliation.read_text())
    return "\n".join(
        [
            *ingest_lines(counts),
            *training_lines(settings, client, has_truth=bool(counts.get("truth", {}).get("clean"))),
            *scores_lines(pd.read_parquet(settings.layout.scores)),
        ]
    )


def ingest_lines(counts: dict[str, dict]) -> list[str]:
    """Input = clean + quarantined per table, with the reasons.

    Example:
        >>> counts = {"trades": {"input": 3, "clean": 2, "quarantined": 1, "reasons": {"dup": 1}}}
        >>> print(ingest_lines(counts)[-1])
          trades              3 =          2 +       1  {'dup': 1}
    """
    lines = ["", "Ingest (input = clean + quarantined):"]
    for table, entry in counts.items():
        counted = f"{entry['input']:>10} = {entry['clean']:>10} + {entry['quarantined']:>7}"
        lines.append(f"  {table:<10} {counted}  {entry['reasons']}")
    return lines


def training_lines(settings: Settings, client: MlflowClient, has_truth: bool = False) -> list[str]:
    """The challenger's walk-forward means against the label (and skill), the gate and the champion."""
    challenger = client.get_model_version_by_alias(settings.model_name, registry.CHALLENGER)
    run = client.get_run(challenger.run_id)
    params = run.data.params
    lines = [
        "",
        f"Walk-forward ({params.get('folds')} folds, label {params.get('label')}, objective "
        f"{params.get('objective')}), mean over test months:",
    ]
    for target in ("label", "skill"):
        for scorer in SCORERS:
            ndcg, ic = (run.data.metrics.get(f"mean_{scorer}_vs_{target}_{m}") for m in ("ndcg_at_100", "ic"))
            if ndcg is not None:
                name = f"{scorer}_vs_{target}"
                lines.append(
                    f"  {name:<28} NDCG@100 {measured(ndcg, '.4f')}   Spearman IC {measured(ic, '+.4f')}"
                )
    lines += ceiling_lines(run.data.metrics)
    if "mean_model_vs_skill_ndcg_at_100" not in run.data.metrics:
        lines.append(
            "  truth/ was given but no account has positive skill: NDCG against skill is undefined"
            if has_truth
            else "  no ground truth was given (no truth/ table): metrics against latent skill are not shown"
        )
    rule = run.data.tags.get("gate_rule")
    lines += [
        "",
        f"Gate{f' (decided by {rule})' if rule else ''}: {run.data.tags.get('gate_reasons', 'not run')}",
    ]
    champion = champion_version(client, settings.model_name)
    if champion is None:
        lines.append(
            "No champion: no challenger has passed the gate yet; the feed serves the heuristic ranking."
        )
    else:
        lines.append(
            f"Champion: {settings.model_name} v{champion.version} (challenger v{challenger.version})"
        )
    return lines


def measured(value: float | None, spec: str) -> str:
    """`value` formatted by `spec`, or ``n/a`` when it was not measured (not logged, or NaN: e.g. against
    skill on a world where nobody is skilled).

    Example:
        >>> measured(0.61, ".4f"), measured(float("nan"), ".4f"), measured(None, "+.4f")
        ('0.6100', 'n/a', 'n/a')
    """
    return "n/a" if value is None or value != value else format(value, spec)


def ceiling_lines(metrics: dict[str, float]) -> list[str]:
    """Against skill: a random order's NDCG@100, and each scorer's share of the ceiling's.

    Example:
        >>> ceiling_lines({"mean_random_vs_skill_ndcg_at_100": 0.03, "mean_ceiling_vs_skill_ndcg_at_100": 0.5,
        ...     "mean_model_vs_skill_ndcg_at_100": 0.4})[0].split(": ", 1)[1]
        'random order NDCG@100 0.0300; share of the ceiling: model 0.80'
    """
    ceiling = metrics.get("mean_ceiling_vs_skill_ndcg_at_100")
    if ceiling is None or not ceiling > 0:  # no truth, or a world without skill (NaN)
        return []
    shares = [
        f"{scorer} {metrics[f'mean_{scorer}_vs_skill_ndcg_at_100'] / ceiling:.2f}"
        for scorer in SCORERS
        if scorer != "ceiling" and f"mean_{scorer}_vs_skill_ndcg_at_100" in metrics
    ]
    random = metrics.get("mean_random_vs_skill_ndcg_at_100", float("nan"))
    return [
        f"  against skill (gain max(skill, 0)): random order NDCG@100 {random:.4f}; share of the ceiling: "
        + ", ".join(shares)
    ]


def scores_lines(scores: pd.DataFrame) -> list[str]:
    """The size of scores/ and the head of its latest date."""
    latest = scores[scores["as_of_date"] == scores["as_of_date"].max()]
    return [
        "",
        f"scores/: {len(scores)} rows over {scores['as_of_date'].nunique()} as-of dates; latest head:",
        latest.head(5).to_string(index=False),
    ]
