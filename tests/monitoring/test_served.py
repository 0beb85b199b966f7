"""What the feed showed: the prediction log read from its files, scores/, and the served windows."""

from __future__ import annotations

import pandas as pd
import pytest

from components.config.layout import DataLayout
from components.errors import DataError
from monitoring.served import (
    ServedModel,
    read_prediction_log,
    read_scores,
    windows,
)

AS_OF = "2021-06-30"


def logged(directory, records) -> None:
    """Write `records` through the servers' own prediction log (the writer monitoring reads after)."""
    from inference.prediction_log import PredictionLog

    log = PredictionLog(directory, roll_seconds=60)
    for record in records:
        log.append(record)
    assert log.flush() is not None


def feed(request_id: str, arm: str, accounts: list[str], degraded: bool = False, as_of: str | None = AS_OF):
    from inference.prediction_log import FeedRecord

    scores = [1.0 - 0.1 * i for i in range(len(accounts))]
    return FeedRecord(request_id, "u-1", arm, "3", as_of, 1.6e9, degraded, accounts, scores)


def test_the_log_keeps_the_models_feeds_in_their_shown_order(tmp_path):
    layout = DataLayout(tmp_path)
    logged(
        layout.prediction_log,
        [
            feed("r1", "treatment", ["a", "b", "c"]),
            feed("r2", "none", ["b", "a", "c"]),
            feed("r3", "control", ["z", "y"]),  # the heuristic's feed
            feed("r4", "treatment", ["x"], degraded=True),  # served from a cache, not the model
            feed("r5", "treatment", ["w"], as_of=None),  # no features date
        ],
    )
    record = read_prediction_log(layout.prediction_log)
    assert record["account_id"].tolist() == ["a", "b", "c"]  # mean ranks 1.5, 1.5 (tie by id), 3
    assert record["rank"].tolist() == [1, 2, 3]
    assert record["score"].tolist() == pytest.approx([0.95, 0.95, 0.8])
    assert set(record["source"]) == {"prediction_log"} and set(record["as_of_date"]) == {pd.Timestamp(AS_OF)}


def test_the_training_predictions_beside_the_log_are_not_read_as_feeds(tmp_path):
    layout = DataLayout(tmp_path)
    layout.prediction_log.mkdir(parents=True)
    pd.DataFrame({"account_id": ["q"], "raw_score": [1.0]}).to_parquet(
        layout.prediction_log / "walk_forward.parquet"
    )
    assert read_prediction_log(layout.prediction_log).empty
    logged(layout.prediction_log, [feed("r1", "treatment", ["a"])])
    assert read_prediction_log(layout.prediction_log)["account_id"].tolist() == ["a"]


def test_scores_are_ranked_per_date_with_ties_broken_by_id(tmp_path):
    layout = DataLayout(tmp_path)
    layout.scores.mkdir(parents=True)
    pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "a", "b"],
            "as_of_date": [pd.Timestamp("2021-05-31").date()] * 3 + [pd.Timestamp(AS_OF).date()] * 2,
            "score": [0.1, 0.5, 0.5, 0.9, 0.2],
        }
    ).to_parquet(layout.scores / "part-0.parquet")
    record = read_scores(layout)
    assert record[["account_id", "rank"]].values.tolist() == [
        ["b", 1],
        ["c", 2],
        ["a", 3],
        ["a", 1],
        ["b", 2],
    ]


def test_no_scores_table_is_an_empty_record(tmp_path):
    assert read_scores(DataLayout(tmp_path)).empty


def served(train_end: str) -> ServedModel:
    stamp = pd.Timestamp
    return ServedModel(
        "skillrank", "3", None, None, stamp("2021-01-31"), stamp(train_end), stamp("2021-07-01")
    )


def test_the_windows_are_the_dates_after_the_training_end_or_else_the_latest():
    record = pd.DataFrame({"as_of_date": pd.to_datetime(["2021-04-30", "2021-05-31", "2021-06-30"])})
    assert windows(record, served("2021-04-30")) == list(pd.to_datetime(["2021-05-31", "2021-06-30"]))
    assert windows(record, served("2021-06-30")) == [pd.Timestamp("2021-06-30")]


def test_the_served_model_reads_its_training_window_through_the_client(world):
    from components.config.tracking import mlflow_client

    features = world.features
    served_model = ServedModel.from_registry(mlflow_client(world.settings), world.settings, features)
    assert served_model.version == world.model_version
    # No train_end tag: trained up to the latest date, on the train_months dates before.
    assert served_model.train_end == pd.Timestamp("2021-06-30")
    assert served_model.train_start == pd.Timestamp("2021-05-31")
    assert served_model.trained_on(features["as_of_date"]).all()


def test_a_version_that_does_not_exist_is_an_error(world):
    from components.config.tracking import mlflow_client

    with pytest.raises(Exception, match="not found|RESOURCE_DOES_NOT_EXIST|not exist"):
        ServedModel.from_registry(mlflow_client(world.settings), world.settings, world.features, version="99")


def test_no_record_at_all_is_a_data_error(world, tmp_path):
    from components.config.tracking import mlflow_client
    from monitoring.served import feed_record

    settings = world.settings.model_copy(
        update={"data_root": tmp_path, "mlflow_tracking_uri": world.settings.mlflow_uri}
    )
    with pytest.raises(DataError, match="no feed to monitor"):
        feed_record(settings, mlflow_client(settings), served("2021-06-30"), [])
