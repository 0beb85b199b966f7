"""A tiny serving world under one data root: features, Feast online store, a registered champion, the index.

Accounts have random but seeded features at two month-ends; a few are ineligible for retrieval (too few
trades, one concentrated position, no track record) and a few are new (short track record). Given
sectors, each account also has a main sector (the feature job's ``main_sector`` column), dealt in turn.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd

from components.config import registry
from components.config.feast import feature_store
from components.config.settings import Settings
from components.config.tracking import mlflow_client, use_experiment
from components.scoring.finalize import ScoringConstants, fit_scoring_constants
from components.store.retrieval import write_retrieval_index
from feature_repo.definitions import account_monthly_features, ranker_v1, service_features
from feature_repo.feature_schema import ENTITY_KEY, EVENT_TIMESTAMP, FEATURES, MAIN_SECTOR
from feature_repo.store import apply_definitions

AS_OF_DATES = [pd.Timestamp("2021-05-31"), pd.Timestamp("2021-06-30")]
FEATURE_NAMES = service_features(ranker_v1)  # the served model's inputs, as the ranker's are


@dataclass(frozen=True)
class World:
    """What the tests need to know about the world they serve."""

    settings: Settings
    features: pd.DataFrame
    booster: lgb.Booster
    model_version: str
    constants: ScoringConstants

    @property
    def latest(self) -> pd.DataFrame:
        """The rows of the latest as-of date, by account id."""
        latest = self.features[self.features[EVENT_TIMESTAMP] == AS_OF_DATES[-1]]
        return latest.set_index(ENTITY_KEY)


def make_features(n_accounts: int, seed: int = 7, sectors: tuple[str | None, ...] = ()) -> pd.DataFrame:
    """Features of `n_accounts` accounts at each as-of date, every feature as float64; with `sectors`,
    account i's main sector is ``sectors[i % len(sectors)]`` (the features stay those without them)."""
    rng = np.random.default_rng(seed)
    base = {
        "sharpe_12m": rng.normal(0.3, 0.8, n_accounts),
        "sortino_12m": rng.normal(0.4, 1.0, n_accounts),
        "volatility_12m": rng.uniform(0.1, 0.6, n_accounts),
        "max_drawdown_12m": rng.uniform(0.02, 0.5, n_accounts),
        "return_12m": rng.normal(0.05, 0.2, n_accounts),
        "hhi": rng.uniform(0.05, 0.6, n_accounts),
        "n_tickers": rng.integers(1, 16, n_accounts).astype(float),
        "trade_count_12m": rng.integers(10, 120, n_accounts).astype(float),
        "tenure_days": rng.integers(100, 1500, n_accounts).astype(float),
        "track_record_days": rng.integers(63, 700, n_accounts).astype(float),
        "roi_since_inception": rng.normal(0.1, 0.3, n_accounts),
        "skew_12m": rng.normal(-0.2, 0.5, n_accounts),
        "kurtosis_12m": rng.uniform(3.0, 10.0, n_accounts),  # not excess
        "beta_12m": rng.normal(1.0, 0.3, n_accounts),
        "alpha_12m": rng.normal(0.0, 0.1, n_accounts),
        "alpha_tstat_12m": rng.normal(0.0, 1.0, n_accounts),
    }
    base["trade_count_12m"][::10] = 3.0  # too few trades
    base["hhi"][1::10] = 0.95  # one concentrated position
    base["track_record_days"][2::25] = 0.0  # no track record yet
    base["track_record_days"][3::10] = 30.0  # new: below the minimum track record
    base["returns_12m"] = np.minimum(base["track_record_days"], 252.0)
    for name in [n for n in FEATURES if n not in base and n != "market_vol_21d"]:  # added since: noise
        base[name] = rng.normal(0.0, 1.0, n_accounts)
    drifting = ["sharpe_12m", "sortino_12m", "volatility_12m", "return_12m", "roi_since_inception"]
    frames = []
    for step, as_of in enumerate(AS_OF_DATES):
        frame = pd.DataFrame(base)
        frame[drifting] += step * rng.normal(0, 0.05, (n_accounts, len(drifting)))
        frame["market_vol_21d"] = 0.15 + 0.02 * step
        frame.insert(0, EVENT_TIMESTAMP, as_of)
        frame.insert(0, ENTITY_KEY, [f"acc-{i:04d}" for i in range(n_accounts)])
        if sectors:
            frame[MAIN_SECTOR] = [sectors[i % len(sectors)] for i in range(n_accounts)]
        frames.append(frame)
    columns = [ENTITY_KEY, EVENT_TIMESTAMP, *FEATURES, *([MAIN_SECTOR] if sectors else [])]
    return pd.concat(frames, ignore_index=True)[columns]


def train_booster(
    features: pd.DataFrame, seed: int = 7, rounds: int = 20, num_leaves: int = 7
) -> lgb.Booster:
    """A seeded regression Booster on the ranker's inputs (label: Sharpe minus drawdown, plus noise).

    Small by default; the benchmarks train one of the learner's size (500 rounds of 15 leaves).
    """
    rng = np.random.default_rng(seed)
    label = features["sharpe_12m"] - features["max_drawdown_12m"] + rng.normal(0, 0.3, len(features))
    params = {
        "objective": "regression",
        "num_leaves": num_leaves,
        "min_data_in_leaf": 5,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
    }
    return lgb.train(params, lgb.Dataset(features[FEATURE_NAMES], label=label), num_boost_round=rounds)


@contextlib.contextmanager
def mlflow_globals(settings: Settings):
    """MLflow's global URIs set to this world's for the block, then put back.

    ``log_model`` and ``create_model_version`` (which looks up the version's logged model) go through
    them whatever client is used; putting them back keeps one world's tests off another world's store.
    """
    uris = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(uris[0])
        mlflow.set_registry_uri(uris[1])


def register_champion(settings: Settings, booster: lgb.Booster, constants: ScoringConstants) -> str:
    """Log, register and promote `booster` with its scoring constants as tags; returns its version."""
    with mlflow_globals(settings):
        use_experiment(settings)
        with mlflow.start_run():
            info = mlflow.lightgbm.log_model(
                booster, name=registry.MODEL_ARTIFACT, registered_model_name=settings.model_name
            )
    version = str(info.registered_model_version)
    tag_version(settings, version, constants.to_tags())
    mlflow_client(settings).set_registered_model_alias(settings.model_name, registry.CHAMPION, version)
    return version


def register_again(settings: Settings, version: str, tags: dict[str, str]) -> str:
    """Register the model of `version` again as a new version with `tags`; returns its number."""
    client = mlflow_client(settings)
    with mlflow_globals(settings):
        source = client.get_model_version(settings.model_name, version).source
        new = str(client.create_model_version(settings.model_name, source).version)
    tag_version(settings, new, tags)
    return new


def tag_version(settings: Settings, version: str, tags: dict[str, str]) -> None:
    client = mlflow_client(settings)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, value)


def publish(settings: Settings, features: pd.DataFrame) -> None:
    """Write ``features/``, register the Feast definitions, materialise the latest date, write the index."""
    layout = settings.layout
    layout.features.mkdir(parents=True, exist_ok=True)
    features.to_parquet(layout.features / "part-0.parquet", index=False)
    store = feature_store(settings)
    apply_definitions(store)
    latest = AS_OF_DATES[-1]
    store.materialize(
        (latest - account_monthly_features.ttl).to_pydatetime(),
        (latest + pd.Timedelta(days=1)).to_pydatetime(),
    )
    write_retrieval_index(layout, settings)


def build_world(
    root: Path,
    n_accounts: int = 50,
    *,
    booster_rounds: int = 20,
    booster_leaves: int = 7,
    sectors: tuple[str | None, ...] = (),
    **settings: object,
) -> World:
    """Build the whole world under `root` (`booster_rounds` and `booster_leaves` size its champion;
    `sectors` deals main sectors, as `make_features`)."""
    settings = Settings(data_root=root, **settings)
    features = make_features(n_accounts, sectors=sectors)
    booster = train_booster(features, rounds=booster_rounds, num_leaves=booster_leaves)
    first = features[features[EVENT_TIMESTAMP] == AS_OF_DATES[0]]  # "training" rows, as training fits them
    constants = fit_scoring_constants(
        first,
        booster.predict(first[FEATURE_NAMES]),
        min_track_record_days=settings.min_track_record_days,
        concentration_penalty=settings.concentration_penalty,
    )
    publish(settings, features)
    version = register_champion(settings, booster, constants)
    return World(settings, features, booster, version, constants)
