"""After a run: what came in, how the model and the baseline did, what the gate decided."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
from mlflow import MlflowClient

from components.config import registry
from components.config.settings import Settings
from components.ranking.baselines import BASELINES
from components.release.champion import champion_version

SCORERS = ["model", "ceiling", "survivors_only", *BASELINES]


def print_run_summary(settings: Settings) -> None:
    """Print reconciliation counts, walk-forward means, the gate verdict and the champion."""
    layout = settings.layout
    counts = json.loads(layout.reconciliation.read_text())
    print("\nIngest (input = clean + quarantined):")
    for table, entry in counts.items():
        counted = f"{entry['input']:>10} = {entry['clean']:>10} + {entry['quarantined']:>7}"
        print(f"  {table:<10} {counted}  {entry['reasons']}")
    mlflow.set_tracking_uri(settings.mlflow_uri)
    client = MlflowClient()
    challenger = client.get_model_version_by_alias(settings.model_name, registry.CHALLENGER)
    run = client.get_run(challenger.run_id)
    params = run.data.params
    print(
        f"\nWalk-forward ({params.get('folds')} folds, label {params.get('label')}, objective "
        f"{params.get('objective')}), mean over test months:"
    )
    for target in ("label", "skill"):
        for scorer in SCORERS:
            ndcg, ic = (run.data.metrics.get(f"mean_{scorer}_vs_{target}_{m}") for m in ("ndcg_at_100", "ic"))
            if ndcg is not None:
                print(f"  {scorer + '_vs_' + target:<28} NDCG@100 {ndcg:.4f}   Spearman IC {ic:+.4f}")
    if "mean_model_vs_skill_ndcg_at_100" not in run.data.metrics:
        print("  no ground truth was given (no truth/ table): metrics against latent skill are not reported")
    print(f"\nGate: {run.data.tags.get('gate_reasons', 'not run')}")
    champion = champion_version(settings)
    if champion is None:
        print("No champion: no challenger has passed the gate yet, so there is no feed to serve.")
    else:
        print(f"Champion: {settings.model_name} v{champion.version} (challenger v{challenger.version})")
    scores = pd.read_parquet(layout.scores)
    latest = scores[scores["as_of_date"] == scores["as_of_date"].max()]
    print(f"\nscores/: {len(scores)} rows over {scores['as_of_date'].nunique()} as-of dates; latest head:")
    print(latest.head(5).to_string(index=False))
