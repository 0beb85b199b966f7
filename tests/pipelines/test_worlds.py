"""The across-worlds table, read from a tiny fake of a finished world (no pipeline run)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from components.config import registry
from components.config.settings import Settings
from components.config.tracking import experiment_id, mlflow_client
from components.ranking.baselines import BASELINES
from components.release.training import predictions_path
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP
from pipelines import worlds
from pipelines.worlds import DONE, World
from tests.mlflow_globals import Elsewhere
from tests.serving_world import make_features

WORLD = World("fake", 3, "2001-01-01", "2003-12-31", prevalence=0.1, faults=False)
NDCG = {"model": 0.5, "ceiling": 0.8, "random": 0.03} | {name: 0.1 for name in BASELINES} | {"psr": 0.4}


def fake_world(directory, monkeypatch) -> pd.DataFrame:
    """A finished world's outputs: the challenger's run in MLflow, predictions, features, truth, scores.

    The model's score is the account number, so its top accounts are the last ones; those are the
    gamblers. Returns the features.
    """
    settings = Settings(data_root=directory / "data")
    Elsewhere(directory / "elsewhere.db", monkeypatch)
    client = mlflow_client(settings)
    run = client.create_run(experiment_id(client, settings))
    metrics = {f"eval_{scorer}_vs_skill_ndcg_at_100": v for scorer, v in NDCG.items()}
    metrics |= {"eval_model_vs_skill_precision_at_100": 0.3, "eval_psr_vs_skill_precision_at_100": 0.2}
    metrics |= {"mean_model_vs_skill_ndcg_at_100": 0.45, "mean_roi_log_days_vs_skill_ndcg_at_100": 0.3}
    for key, value in (metrics | {"calibration_ece": 0.04}).items():
        client.log_metric(run.info.run_id, key, value)
    client.log_param(run.info.run_id, "label", "fwd_alpha_tstat_12m")
    for key, value in {"gate_promote": "True", "gate_rule": "baseline"}.items():
        client.set_tag(run.info.run_id, key, value)
    client.create_registered_model(settings.model_name)
    version = client.create_model_version(settings.model_name, "file:///nowhere", run.info.run_id).version
    client.set_registered_model_alias(settings.model_name, registry.CHALLENGER, version)

    layout = settings.layout
    features = make_features(200)
    as_written = features.assign(**{EVENT_TIMESTAMP: features[EVENT_TIMESTAMP].dt.tz_localize("UTC")})
    as_written.to_parquet(layout.features.mkdir(parents=True) or layout.features / "part.parquet")  # Spark's
    number = features[ENTITY_KEY].str[-4:].astype(int)
    predictions = features[[ENTITY_KEY, EVENT_TIMESTAMP]].assign(raw_score=number.astype(float), fold=0)
    predictions_path(layout).parent.mkdir(parents=True)
    predictions.to_parquet(predictions_path(layout))
    accounts = features[ENTITY_KEY].drop_duplicates()
    archetype = ["gambler" if int(a[-4:]) >= 100 else "unskilled" for a in accounts]
    truth = pd.DataFrame({ENTITY_KEY: accounts, "skill": 0.0, "archetype": archetype})
    layout.clean("truth").mkdir(parents=True)
    truth.to_parquet(layout.clean("truth") / "part.parquet")
    scores = predictions[[ENTITY_KEY, EVENT_TIMESTAMP]].assign(
        score=number, fdr_pass=number >= 195, probability_of_skill=number / 1000
    )
    scores[EVENT_TIMESTAMP] = scores[EVENT_TIMESTAMP].dt.date  # as scores/ has them
    scores.to_parquet(layout.scores.mkdir(parents=True) or layout.scores / "part.parquet")
    (directory / DONE).write_text("{}")
    return features


def test_world_row_reads_the_finished_world(tmp_path, monkeypatch):
    fake_world(tmp_path, monkeypatch)
    row = worlds.world_row(WORLD, tmp_path)
    assert row["world"] == "seed 3, 2001–2003, prevalence 0.1, no faults"
    assert row["best_baseline"] == "psr"
    assert row["model_over_best_baseline"] == pytest.approx(0.5 / 0.4)
    assert row["share_of_ceiling"] == pytest.approx(0.5 / 0.8)
    assert row["model_over_best_baseline_fold_means"] == pytest.approx(0.45 / 0.3)
    assert (row["precision_model"], row["precision_best_baseline"]) == (0.3, 0.2)
    assert row["calibration_ece"] == 0.04
    assert row["gambler_share_model"] == 1.0  # its top 100 of 200 accounts are the gamblers
    assert 0 < row["gambler_share_best_baseline"] < 1
    assert row["top10_fdr_pass_share"] == 0.5  # accounts 190..199, of which 195..199 pass
    assert row["top10_mean_probability_of_skill"] == pytest.approx(0.1945)
    assert row["gate"] == "promoted"
    assert row["test_dates"] == 2
    assert row["run"] == "finished"


def test_a_run_that_stopped_after_training_still_has_its_row_without_the_feed(tmp_path, monkeypatch):
    fake_world(tmp_path, monkeypatch)
    (tmp_path / DONE).unlink()
    shutil.rmtree(tmp_path / "data" / "scores")
    row = worlds.world_row(WORLD, tmp_path)
    assert row["run"].startswith("stopped after training")
    assert "top10_fdr_pass_share" not in row and row["share_of_ceiling"] == pytest.approx(0.5 / 0.8)


def test_gambler_share_is_of_each_top_k_averaged_over_dates():
    scores = pd.DataFrame(
        {
            ENTITY_KEY: ["a", "b", "c", "a", "b", "c"],
            EVENT_TIMESTAMP: [1, 1, 1, 2, 2, 2],
            "model": [3, 2, 1, 1, 2, 3],
            "psr": [1, 2, 3, 1, 2, 3],
        }
    )
    truth = pd.DataFrame({ENTITY_KEY: ["a", "b", "c"], "archetype": ["gambler", "skilled", "skilled"]})
    shares = worlds.archetype_share_of_top(scores, truth, ["model", "psr"], k=1)
    assert shares == {"model": 0.5, "psr": 0.0}


def test_a_world_without_skill_has_no_best_baseline_and_the_table_leaves_it_blank():
    figures = worlds.ranking_figures({"calibration_ece": 0.01, "eval_model_vs_skill_precision_at_100": 0.08})
    assert figures["best_baseline"] is None
    assert pd.isna(figures["precision_model"])  # ties at zero skill: the top 100 by skill is arbitrary
    table = worlds.markdown_table([{"world": "no skill", **figures, "gate": "kept (baseline)"}])
    assert "| no skill |" in table and "–" in table and "kept (baseline)" in table


def test_main_tabulates_the_worlds_that_ran_only(tmp_path, monkeypatch):
    fake_world(tmp_path / WORLD.name, monkeypatch)
    monkeypatch.setattr(worlds, "WORLDS", [WORLD, World("unrun", 5, "2001-01-01", "2003-12-31")])
    assert worlds.main(["--out", str(tmp_path), "--table-only", "--worlds", "fake,unrun"]) == 0
    rows = json.loads((tmp_path / "worlds.json").read_text())
    assert [row["world"] for row in rows] == [WORLD.label]
    assert "share of ceiling" in (tmp_path / "worlds.md").read_text()
    assert len(pd.read_csv(tmp_path / "worlds.csv")) == 1
