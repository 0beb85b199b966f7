"""The feature services: one per consumer, each with the names of `feature_repo.feature_schema`."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_repo.definitions import (
    FEATURE_SERVICES,
    account_monthly_features,
    features_source,
    features_view,
    feed_v1,
    ranker_v1,
    retrieval_v1,
    scoring_v1,
    service_features,
    training_v1,
)
from feature_repo.feature_schema import (
    FEATURES,
    FEED_INPUTS,
    RANKER_INPUTS,
    RETRIEVAL_INPUTS,
    SCORING_INPUTS,
)

# What the consumers read before the lists moved into feature_repo: the ranker's order is the model's.
RANKER_ORDER = [
    "sharpe_tstat_inception",
    "alpha_tstat_inception",
    "universe_alpha_tstat_inception",
    "alpha_tstat_12m",
    "sharpe_12m",
    "track_record_days",
]


def test_the_ranker_service_serves_the_models_inputs_in_its_order():
    assert service_features(ranker_v1) == RANKER_ORDER


@pytest.mark.parametrize(
    ("service", "names"),
    [
        (ranker_v1, RANKER_INPUTS),
        (scoring_v1, SCORING_INPUTS),
        (retrieval_v1, RETRIEVAL_INPUTS),
        (feed_v1, FEED_INPUTS),
        (training_v1, tuple(FEATURES)),
    ],
)
def test_each_service_serves_its_list_in_order(service, names):
    assert service_features(service) == list(names)


def test_every_consumer_list_names_features_each_once():
    for names in (RANKER_INPUTS, SCORING_INPUTS, RETRIEVAL_INPUTS, FEED_INPUTS):
        assert set(names) <= set(FEATURES) and len(set(names)) == len(names)


def test_the_feed_reads_the_models_inputs_then_the_rest_of_scoring():
    assert FEED_INPUTS[: len(RANKER_INPUTS)] == RANKER_INPUTS
    assert set(FEED_INPUTS) == set(RANKER_INPUTS) | set(SCORING_INPUTS)


def test_services_are_versioned_described_and_tagged():
    names = [service.name for service in FEATURE_SERVICES]
    assert len(set(names)) == len(names) and all(name.endswith("_v1") for name in names)
    assert all(service.description and service.tags.get("consumer") for service in FEATURE_SERVICES)


def test_the_source_of_a_data_root_is_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = features_source(Path("root"))
    assert source.path == str(tmp_path / "root" / "features")
    assert features_view(source).batch_source is source


def test_a_view_for_another_source_keeps_the_schema():
    view = features_view(features_source(Path("/elsewhere")))
    assert [f.name for f in view.features] == [f.name for f in account_monthly_features.features]
    assert view.ttl == account_monthly_features.ttl
