"""The scores/ table: the served version, its scores of the latest date, the folds' out-of-sample scores."""

import pandas as pd
import pytest

from components.config import registry
from components.config.tracking import mlflow_client
from components.errors import DataError
from components.release.batch_scores import COLUMNS, scoring_features, serving_version, write_scores
from components.release.training import predictions_path
from components.scoring.finalize import finalize_scores, fit_scoring_constants
from tests.mlflow_globals import Elsewhere
from tests.serving_world import AS_OF_DATES, FEATURE_NAMES, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A served world of its own (Feast, a champion) with fold predictions of the first date."""
    root = tmp_path_factory.mktemp("scores-world")
    with pytest.MonkeyPatch.context() as patch:
        Elsewhere(root / "elsewhere.db", patch)  # build_world sets MLflow's globals: undone after the module
        world = build_world(root / "root", n_accounts=40)
        first = world.features[world.features["as_of_date"] == AS_OF_DATES[0]]
        predictions = first[["account_id", "as_of_date"]].assign(
            raw_score=world.booster.predict(first[FEATURE_NAMES]), fold=0
        )
        path = predictions_path(world.settings.layout)
        path.parent.mkdir(parents=True)
        predictions.to_parquet(path, index=False)
        yield world


def test_the_feed_serves_the_champion_else_the_challenger(client, settings, register):
    with pytest.raises(RuntimeError, match="neither a champion nor a challenger: train first"):
        serving_version(client, settings.model_name)
    challenger = register(alias=registry.CHALLENGER)
    assert str(serving_version(client, settings.model_name).version) == challenger
    champion = register(alias=registry.CHAMPION)
    assert str(serving_version(client, settings.model_name).version) == champion


def test_a_feature_table_without_the_scoring_inputs_is_named(tmp_path, settings):
    settings.layout.features.mkdir(parents=True)
    pd.DataFrame({"account_id": ["a"], "as_of_date": [AS_OF_DATES[0]], "hhi": [0.2]}).to_parquet(
        settings.layout.features / "part-0.parquet"
    )
    with pytest.raises(
        DataError, match=r"the feature table .*/features, which scoring reads, lacks the columns"
    ):
        scoring_features(settings.layout)


@pytest.fixture(scope="module")
def written(world):
    with pytest.MonkeyPatch.context() as patch:
        elsewhere = Elsewhere(world.settings.data_root.parent / "elsewhere-scores.db", patch)
        summary = write_scores(
            world.settings.layout, world.settings, mlflow_client(world.settings), world.model_version
        )
        assert not elsewhere.used  # the registry was read through the client only
    return summary, pd.read_parquet(world.settings.layout.scores)


def test_scores_cover_every_fold_date_and_the_latest(world, written):
    summary, scores = written
    assert list(scores.columns) == COLUMNS
    assert summary == {
        "rows_per_date": {str(date.date()): 40 for date in AS_OF_DATES},
        "latest_model_version": world.model_version,
    }


def test_the_latest_date_is_scored_by_the_served_version_and_its_constants(world, written):
    _, scores = written
    latest = world.features[world.features["as_of_date"] == AS_OF_DATES[-1]]
    expected = finalize_scores(
        latest, world.booster.predict(latest[FEATURE_NAMES]), constants=world.constants
    )
    got = scores[scores["as_of_date"] == AS_OF_DATES[-1].date()].set_index("account_id")
    pd.testing.assert_series_equal(
        got.loc[expected["account_id"], "score"], expected.set_index("account_id")["score"], rtol=1e-9
    )


def test_a_fold_date_is_scored_with_constants_fitted_on_its_own_out_of_sample_scores(world, written):
    _, scores = written
    first = world.features[world.features["as_of_date"] == AS_OF_DATES[0]]
    raw = world.booster.predict(first[FEATURE_NAMES])
    settings = world.settings
    constants = fit_scoring_constants(
        first,
        raw,
        min_track_record_days=settings.min_track_record_days,
        concentration_penalty=settings.concentration_penalty,
    )
    expected = finalize_scores(first, raw, constants=constants).set_index("account_id")["score"]
    got = scores[scores["as_of_date"] == AS_OF_DATES[0].date()].set_index("account_id")["score"]
    pd.testing.assert_series_equal(got.loc[expected.index], expected, rtol=1e-9)
