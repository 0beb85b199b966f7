"""Ranking behaviour of a trained ranker plus the feed's final score: luck does not beat steadiness."""

import numpy as np
import pandas as pd
import pytest

from components.config.settings import Settings
from components.ranking.learner import feature_names, fit_booster
from components.scoring.finalize import finalize_scores, fit_scoring_constants
from feature_repo.feature_schema import FEATURES

SETTINGS = Settings(n_estimators=60, seed=3)
LEARNER_INPUTS = feature_names(SETTINGS.ranker_features)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    """Six months of 400 accounts whose next-month label follows their 12-month Sharpe, plus noise."""
    rng = np.random.default_rng(3)
    rows = []
    for as_of in pd.date_range("2020-01-31", periods=6, freq="ME"):
        frame = pd.DataFrame({name: rng.normal(size=400) for name in FEATURES})
        frame["account_id"] = [f"a{i}" for i in range(400)]
        frame["as_of_date"] = as_of
        frame["track_record_days"] = rng.integers(63, 900, 400).astype(float)
        frame["returns_12m"] = frame["track_record_days"].clip(upper=252)
        frame["sharpe_12m"] = rng.normal(0.5, 1.0, 400)
        years = frame["track_record_days"] / 252  # evidence since inception grows with the record
        frame["sharpe_tstat_inception"] = frame["sharpe_12m"] * np.sqrt(years) + rng.normal(0, 0.3, 400)
        frame["skew_12m"], frame["kurtosis_12m"] = 0.0, 3.0
        frame["hhi"] = rng.uniform(0.1, 0.6, 400)
        frame["fwd_sharpe_30d"] = frame["sharpe_12m"] + rng.normal(0, 3.5, 400)  # one month: mostly noise
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def trader(**values) -> dict:
    """An account's features; its evidence since inception follows its Sharpe ratio and record, as in
    the population."""
    base = {name: 0.0 for name in FEATURES} | {"skew_12m": 0.0, "kurtosis_12m": 3.0}
    years = values["track_record_days"] / 252
    return base | {"sharpe_tstat_inception": values["sharpe_12m"] * years**0.5} | values


def test_lucky_one_stock_gambler_ranks_below_steady_diversified_trader(population):
    booster = fit_booster(population, SETTINGS, "regression", "fwd_sharpe_30d")
    constants = fit_scoring_constants(
        population,
        booster.predict(population[LEARNER_INPUTS]),
        min_track_record_days=63,
        concentration_penalty=1.0,
    )
    accounts = pd.DataFrame(
        [
            # Four months old, everything in one meme stock, a huge year and a fat right tail.
            trader(
                account_id="gambler",
                sharpe_12m=2.2,
                skew_12m=3.0,
                kurtosis_12m=15.0,
                hhi=1.0,
                n_tickers=1,
                track_record_days=84,
                returns_12m=84,
                volatility_12m=1.2,
                return_12m=3.0,
            ),
            # Four years, nine holdings, a good but unspectacular Sharpe ratio.
            trader(
                account_id="steady",
                sharpe_12m=1.6,
                hhi=0.12,
                n_tickers=9,
                track_record_days=1000,
                returns_12m=252,
                volatility_12m=0.15,
                return_12m=0.25,
            ),
        ]
    )
    raw = booster.predict(accounts[LEARNER_INPUTS])
    assert raw[0] > raw[1]  # the learner alone is fooled by the gambler's Sharpe ratio ...
    scores = finalize_scores(accounts, raw, constants=constants)  # ... shrinkage and the penalty are not
    assert scores["account_id"].tolist() == ["steady", "gambler"]
    by_account = scores.set_index("account_id")
    assert by_account.loc["steady", "confidence"] > by_account.loc["gambler", "confidence"]
