"""The retrieval transformer, called directly with the real Feast online store and the real predictor."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
from kserve.errors import InferenceError, InvalidInput

from components.config.settings import Settings
from components.scoring.explanations import reasons
from components.scoring.finalize import finalize_scores
from inference.transformer import RetrievalTransformer, main, parse_feed_request
from tests.serving_world import FEATURE_NAMES


@pytest.fixture(scope="module")
def transformer(world, predictor) -> RetrievalTransformer:
    """The transformer, calling the predictor in process instead of over HTTP; it records every body sent."""
    model = RetrievalTransformer(world.settings.model_name, world.settings)
    model.load()
    model.sent = []

    async def call_predictor(body, headers=None, response_headers=None):
        model.sent.append(body)
        return predictor.predict(body)

    model.call_predictor = call_predictor
    return model


def feed(transformer, body: dict) -> dict:
    """preprocess -> predict (the predictor in process) -> postprocess, as KServe chains them."""

    async def chain():
        batch = await transformer.preprocess(body)
        return await transformer.postprocess(await transformer.predict(batch))

    return asyncio.run(chain())


def test_preprocess_sends_the_index_candidates_with_their_online_features(transformer, world):
    batch = asyncio.run(transformer.preprocess({}))
    index = pd.read_parquet(world.settings.layout.retrieval_index)
    assert batch.candidates["account_id"].tolist() == index["account_id"].tolist()
    assert batch.top_k == world.settings.top_k
    first = batch.instances[0]
    assert set(first) == set(FEATURE_NAMES)
    assert first == pytest.approx(world.latest.loc[index["account_id"][0], FEATURE_NAMES].to_dict())


def test_feed_orders_like_finalize_scores_on_the_offline_features(transformer, world):
    index = pd.read_parquet(world.settings.layout.retrieval_index)
    offline = world.latest.loc[index["account_id"]]
    expected = finalize_scores(
        offline.reset_index(), world.booster.predict(offline[FEATURE_NAMES]), constants=world.constants
    ).head(25)
    result = feed(transformer, {"top_k": 25})
    investors = pd.DataFrame(result["investors"])
    assert investors["account_id"].tolist() == expected["account_id"].tolist()
    np.testing.assert_allclose(investors["score"], expected["score"])
    np.testing.assert_allclose(investors["confidence"], expected["confidence"])
    probability = investors["probability_of_skill"].astype(float)
    np.testing.assert_allclose(probability, expected["probability_of_skill"])
    assert investors["fdr_pass"].tolist() == expected["fdr_pass"].tolist()
    assert investors["status"].tolist() == expected["status"].tolist()
    assert investors["rank"].tolist() == list(range(1, 26))


def test_feed_reply_names_the_model_date_and_candidates(transformer, world):
    result = feed(transformer, {"top_k": 3})
    assert result["model_name"] == world.settings.model_name
    assert result["model_version"] == world.model_version
    assert result["as_of_date"] == "2021-06-30"
    assert result["candidates"] == len(pd.read_parquet(world.settings.layout.retrieval_index))
    assert len(result["investors"]) == 3
    assert all(investor["reasons"] for investor in result["investors"])


def test_reasons_are_the_largest_contributions_then_the_probability_of_skill(transformer, predictor, world):
    [investor] = feed(transformer, {"top_k": 1})["investors"]
    row = world.latest.loc[[investor["account_id"]], FEATURE_NAMES]
    reply = predictor.predict({"instances": row.to_dict("records"), "explain": True})
    [contributions] = reply["contributions"]
    probability = f"probability of skill {investor['probability_of_skill']:.0%}"
    assert investor["reasons"] == reasons(contributions, row.iloc[0].to_dict()) + [probability]
    assert all(r.endswith(("lifted the score", "lowered the score")) for r in investor["reasons"][:-1])


def test_only_the_investors_shown_are_explained(transformer):
    transformer.sent.clear()
    feed(transformer, {"top_k": 4})
    scored, explained = transformer.sent
    assert "explain" not in scored and len(scored["instances"]) > 4
    assert explained["explain"] is True and len(explained["instances"]) == 4


def test_a_reply_without_scoring_constants_is_an_inference_error(transformer, world):
    batch = asyncio.run(transformer.preprocess({"top_k": 2}))
    reply = {"predictions": [0.0] * len(batch.candidates), "model_version": world.model_version}
    with pytest.raises(InferenceError, match="no usable scoring constants: .*missing"):
        asyncio.run(transformer.postprocess((batch, reply)))


def test_new_accounts_get_the_neutral_score_and_no_confidence(transformer, world):
    investors = feed(transformer, {"top_k": 100})["investors"]
    new = [i for i in investors if i["status"] == "new"]
    assert new, "the world has new accounts among the candidates"
    assert [i["score"] for i in new] == pytest.approx([world.constants.neutral_score] * len(new))
    assert {i["confidence"] for i in new} == {0.0}


def test_excluded_accounts_are_not_in_the_feed(transformer):
    top = [i["account_id"] for i in feed(transformer, {"top_k": 3})["investors"]]
    again = feed(transformer, {"top_k": 3, "exclude_account_ids": top[:2]})
    assert not set(top[:2]) & {i["account_id"] for i in again["investors"]}
    assert again["investors"][0]["account_id"] == top[2]


def test_candidates_without_online_features_are_skipped(world):
    transformer = RetrievalTransformer(world.settings.model_name, world.settings)
    transformer.load()
    ghost = pd.DataFrame(
        {"account_id": ["ghost"], "as_of_date": [pd.Timestamp("2021-06-30")], "prior": [9.0]}
    )
    transformer.index_ = pd.concat([ghost, transformer.index_], ignore_index=True)
    batch = asyncio.run(transformer.preprocess({}))
    assert "ghost" not in batch.candidates["account_id"].tolist()
    assert len(batch.candidates) == len(transformer.index_) - 1


def test_a_request_wrapped_in_instances_is_accepted():
    assert parse_feed_request(
        {"instances": [{"top_k": 5, "exclude_account_ids": ["a"]}]}, default_top_k=20
    ) == (5, ["a"])


def test_raw_json_bytes_are_accepted():
    assert parse_feed_request(b'{"top_k": 7}', default_top_k=20) == (7, [])
    assert parse_feed_request(b"", default_top_k=20) == (20, [])


@pytest.mark.parametrize("top_k", [0, 101, "5", 2.5, True, None])
def test_bad_top_k_is_invalid_input(top_k):
    with pytest.raises(InvalidInput, match="top_k must be an integer from 1 to 100"):
        parse_feed_request({"top_k": top_k}, default_top_k=20)


def test_unknown_keys_are_invalid_input():
    with pytest.raises(InvalidInput, match=r"unknown keys \['topk'\]"):
        parse_feed_request({"topk": 5}, default_top_k=20)


def test_exclusions_must_be_a_list_of_ids():
    with pytest.raises(InvalidInput, match="exclude_account_ids must be a list"):
        parse_feed_request({"exclude_account_ids": "acc-0001"}, default_top_k=20)


def test_more_than_one_wrapped_request_is_invalid_input():
    with pytest.raises(InvalidInput, match="exactly one feed request"):
        parse_feed_request({"instances": [{}, {}]}, default_top_k=20)


def test_non_json_body_is_invalid_input():
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        parse_feed_request(b"top_k=5", default_top_k=20)


def test_load_fails_loudly_without_a_retrieval_index(tmp_path):
    transformer = RetrievalTransformer("skillrank", Settings(data_root=tmp_path))
    with pytest.raises(RuntimeError, match="no retrieval index at .*candidates.parquet"):
        transformer.load()
    assert not transformer.ready


def test_main_has_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--predictor_host" in capsys.readouterr().out


def test_main_requires_a_predictor_host(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--predictor_host is required" in capsys.readouterr().err
