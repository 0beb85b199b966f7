"""On a simulated world where nobody is skilled, the feed must not call anyone skilled.

The world's 12-month Sharpe ratios still rise with the market (2019-2021 is a bull market), which is
what made the old flags (BH on PSR p-values of raw Sharpe) pass most established accounts. The features
come from the real Spark job; each scored date is finalized with constants fitted three months earlier,
as a model trained on earlier dates would be.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from components.config.layout import DataLayout
from components.contract.ingest import ingest
from components.features.job import build_features
from components.features.spark import spark_session
from components.ranking.baselines import baseline_scores
from components.scoring.finalize import STATUS_ESTABLISHED, finalize_scores, fit_scoring_constants
from components.simulator.params import WorldParams
from components.simulator.world import simulate_world
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP

pytestmark = pytest.mark.spark

MIN_TRACK_RECORD_DAYS = 63
FIT_LAG = 3  # months between the date the constants are fitted on and the date they score
SCORERS = ("roi_log_days", "sharpe_12m", "psr")


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("no-skill-world")
    params = WorldParams.with_skill_prevalence(0.0)
    simulate_world(
        root / "source", 300, date(2019, 1, 1), date(2021, 6, 30), seed=3, chunk_size=150, params=params
    )
    layout = DataLayout(root / "data")
    ingest(root / "source", layout)
    with spark_session("skillrank-test-no-skill", master="local[2]", shuffle_partitions=2) as spark:
        build_features(layout, spark)
    frame = pd.read_parquet(layout.features)
    truth = pd.read_parquet(root / "source" / "truth")
    assert (truth["skill"] == 0).all()  # the world itself: nobody is skilled
    return frame


def scored_dates(features: pd.DataFrame):
    """(fitting rows, scored rows) of each as-of date with an earlier date to fit on, and a year behind it."""
    dates = sorted(features[EVENT_TIMESTAMP].unique())
    for fit_date, as_of in zip(dates[12 - FIT_LAG :], dates[12:], strict=False):
        yield features[features[EVENT_TIMESTAMP] == fit_date], features[features[EVENT_TIMESTAMP] == as_of]


def finalized(fit_rows: pd.DataFrame, rows: pd.DataFrame, scorer: str) -> pd.DataFrame:
    """`finalize_scores` of `rows` by a heuristic scorer, with the constants of `fit_rows`."""
    constants = fit_scoring_constants(
        fit_rows,
        baseline_scores(fit_rows, [scorer])[scorer].fillna(0.0),
        min_track_record_days=MIN_TRACK_RECORD_DAYS,
        concentration_penalty=1.0,
    )
    return finalize_scores(rows, baseline_scores(rows, [scorer])[scorer].fillna(0.0), constants=constants)


def test_fdr_pass_flags_fewer_than_one_percent_of_established_accounts_at_every_date(features):
    for fit_rows, rows in scored_dates(features):
        final = finalized(fit_rows, rows, SCORERS[0])
        established = final[final["status"] == STATUS_ESTABLISHED]
        assert len(established) > 100
        assert established["fdr_pass"].mean() < 0.01, rows[EVENT_TIMESTAMP].iloc[0]


@pytest.mark.parametrize("scorer", SCORERS)
def test_the_top_10_are_not_called_likely_skilled(features, scorer):
    for fit_rows, rows in scored_dates(features):
        final = finalized(fit_rows, rows, scorer)
        top = final[final["status"] == STATUS_ESTABLISHED].head(10)
        assert np.nanmean(top["probability_of_skill"]) < 0.5, (scorer, rows[EVENT_TIMESTAMP].iloc[0])


def test_the_raw_sharpe_of_this_world_rises_with_the_market(features):
    """What the old flags mistook for skill is there: most established accounts gained."""
    latest = features[features[EVENT_TIMESTAMP] == features[EVENT_TIMESTAMP].max()]
    established = latest[latest["track_record_days"] >= MIN_TRACK_RECORD_DAYS]
    assert established["sharpe_12m"].median() > 0.5
    assert established[ENTITY_KEY].nunique() == len(established)
