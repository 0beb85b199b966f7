"""Seeded worlds for the monitoring tests: a quiet one and one whose second half changes regime, and the
platform's export of a world as it stood at a date (what a nightly export holds on that day)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from components.simulator.params import WorldParams
from components.simulator.world import simulate_world

TABLE_DATES = {"trades": "ts", "snapshots": "date", "market": "date"}


def simulate(out: Path, n_accounts: int, start: date, end: date, seed: int, regime_start: date | None = None):
    """A world in the contract; from `regime_start` on (if given) most accounts concentrate and de-lever."""
    return simulate_world(out, n_accounts, start, end, seed, params=WorldParams(regime_start=regime_start))


def export_as_of(world: Path, out: Path, as_of: date) -> Path:
    """Copy of `world`'s tables as the platform exported them at the end of `as_of`.

    Rows dated after `as_of` are left out, accounts opened later too, and an account closed later is
    still open (``closed_at`` null).
    """
    cut = pd.Timestamp(as_of)
    accounts = pd.read_parquet(world / "accounts")
    accounts = accounts[pd.to_datetime(accounts["opened_at"]) <= cut].copy()
    accounts.loc[pd.to_datetime(accounts["closed_at"]) > cut, "closed_at"] = None
    tables = {"accounts": accounts, "sectors": pd.read_parquet(world / "sectors")}
    for name, column in TABLE_DATES.items():
        frame = pd.read_parquet(world / name)
        tables[name] = frame[pd.to_datetime(frame[column]).dt.normalize() <= cut]
    truth = pd.read_parquet(world / "truth")
    tables["truth"] = truth[truth["account_id"].isin(accounts["account_id"])]
    for name, frame in tables.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out / name / "part-00000.parquet", index=False)
    return out


def train_in_process(settings, spark) -> str:
    """The training pipeline's steps as plain calls in this process (one Spark session for all): ingest,
    features, publish, train, gate, promote when it passes, scores. Returns the version the feed serves.

    The DAG itself, with the KFP local runner, is what a retrain launches (`monitoring.trigger`), and
    tests/pipelines/test_end_to_end.py runs it; this is the served model the scenario starts from.
    """
    from components.config.tracking import mlflow_client, use_experiment
    from components.release.batch_scores import serving_version, write_scores
    from components.release.promotion import decide, promote, record_decision
    from components.release.training import train_and_register

    refresh_features(settings, spark)
    tracking = use_experiment(settings)
    outcome = train_and_register(settings.layout, settings, tracking)
    verdict = decide(outcome, settings)
    record_decision(tracking.client, outcome, verdict, settings.model_name)
    if verdict.promote:
        promote(tracking.client, settings.model_name, outcome.version)
    client = mlflow_client(settings)
    version = serving_version(client, settings.model_name).version
    write_scores(settings.layout, settings, client, version)
    return str(version)


def refresh_features(settings, spark) -> None:
    """The nightly refresh of `settings.source`: ingest, the Spark feature job, Feast publish."""
    from components.contract.ingest import ingest
    from components.features.job import build_features
    from components.store.publish import publish_features

    ingest(settings.source, settings.layout)
    build_features(settings.layout, spark)
    publish_features(settings.layout, settings)
