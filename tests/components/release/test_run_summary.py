"""The summary printed after a run, read from the data root and the registry through a client."""

import json

import pandas as pd
import pytest

from components.config import registry
from components.release.run_summary import run_summary


@pytest.fixture
def finished_run(client, settings, register):
    """A data root and registry as a run leaves them: reconciliation, scores/, a gated challenger."""
    layout = settings.layout
    layout.reconciliation.parent.mkdir(parents=True)
    counts = {"trades": {"input": 10, "clean": 9, "quarantined": 1, "reasons": {"duplicate": 1}}}
    layout.reconciliation.write_text(json.dumps(counts))
    layout.scores.mkdir(parents=True)
    scores = pd.DataFrame(
        {"account_id": ["a", "b", "a"], "as_of_date": ["2021-05-31", "2021-06-30", "2021-06-30"]}
    )
    scores.assign(score=[0.1, 0.9, 0.5]).to_parquet(layout.scores / "part-0.parquet")
    version = register(alias=registry.CHALLENGER)
    run_id = client.get_model_version(settings.model_name, version).run_id
    for key, value in {"folds": "3", "label": "fwd_sharpe_30d", "objective": "regression"}.items():
        client.log_param(run_id, key, value)
    client.log_metric(run_id, "mean_model_vs_label_ndcg_at_100", 0.61)
    client.log_metric(run_id, "mean_model_vs_label_ic", 0.12)
    client.set_tag(run_id, "gate_reasons", "beats the baseline | there is no champion yet")
    return version


def test_the_summary_tells_ingest_training_gate_and_scores(client, settings, finished_run, elsewhere):
    text = run_summary(settings, client)
    assert "  trades             10 =          9 +       1  {'duplicate': 1}" in text
    assert "Walk-forward (3 folds, label fwd_sharpe_30d, objective regression)" in text
    assert "  model_vs_label               NDCG@100 0.6100   Spearman IC +0.1200" in text
    assert "no ground truth was given" in text
    assert "Gate: beats the baseline | there is no champion yet" in text
    assert "No champion: no challenger has passed the gate yet" in text
    assert "scores/: 3 rows over 2 as-of dates; latest head:" in text
    assert not elsewhere.used


def test_the_summary_names_the_champion_once_there_is_one(client, settings, finished_run):
    client.set_registered_model_alias(settings.model_name, registry.CHAMPION, finished_run)
    assert f"Champion: skillrank v{finished_run} (challenger v{finished_run})" in run_summary(
        settings, client
    )


def test_metrics_that_could_not_be_measured_read_n_a(client, settings, finished_run, elsewhere):
    # A world where nobody is skilled: NDCG against skill is NaN and its IC was not logged.
    run_id = client.get_model_version(settings.model_name, finished_run).run_id
    client.log_metric(run_id, "mean_model_vs_skill_ndcg_at_100", float("nan"))
    text = run_summary(settings, client)
    assert "  model_vs_skill               NDCG@100 n/a   Spearman IC n/a" in text


def test_a_world_with_truth_but_no_skill_says_so(client, settings, finished_run, elsewhere):
    counts = json.loads(settings.layout.reconciliation.read_text())
    counts["truth"] = {"input": 3, "clean": 3, "quarantined": 0, "reasons": {}}
    settings.layout.reconciliation.write_text(json.dumps(counts))
    text = run_summary(settings, client)
    assert "truth/ was given but no account has positive skill" in text
    assert "no ground truth was given" not in text
