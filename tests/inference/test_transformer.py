"""The retrieval transformer, called directly: the real Feast online store, the real predictor in process.

The predictor is called through the v2 wire format both ways (`inference.v2` and KServe's
``InferResponse.from_bytes``, as its REST client reads replies), without the HTTP hop.
"""

from __future__ import annotations

import asyncio
import math
import threading

import numpy as np
import orjson
import pandas as pd
import pyarrow.dataset
import pytest
from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from components.config.settings import Settings
from components.scoring.explanations import probability_reason, reasons
from components.scoring.finalize import finalize_scores
from inference.experiment import CONTROL, TREATMENT, UNASSIGNED
from inference.prediction_log import SCHEMA
from inference.snapshot import SECTOR
from inference.transformer import CONTRIBUTION_CHUNK, RetrievalTransformer, main
from inference.v2 import decode_request, encode_response
from tests.serving_world import FEATURE_NAMES


def wire(predictor):
    """`call_predictor` through the predictor in process, its request and reply as bytes on the wire."""

    async def call_predictor(request: InferRequest) -> InferResponse:
        content, json_length = request.to_rest()
        body = content if isinstance(content, bytes) else orjson.dumps(content)
        headers = {} if json_length is None else {"inference-header-content-length": str(json_length)}
        response = predictor.predict(decode_request(body, headers, predictor.name))
        reply, _ = encode_response(response)
        return InferResponse.from_bytes(reply, len(reply))

    return call_predictor


def make_transformer(world, predictor, **settings) -> RetrievalTransformer:
    model = RetrievalTransformer(world.settings.model_name, world.settings.model_copy(update=settings))
    model.sent = []
    call = wire(predictor)

    async def call_predictor(request):
        model.sent.append(request)
        return await call(request)

    model.call_predictor = call_predictor
    model.load()
    return model


@pytest.fixture(scope="module")
def transformer(world, predictor, tmp_path_factory) -> RetrievalTransformer:
    log_root = tmp_path_factory.mktemp("transformer-log")
    model = make_transformer(world, predictor)
    model.log_.directory = log_root / "predictions"
    return model


def feed(transformer, body: dict | InferRequest, headers: dict | None = None) -> dict | InferResponse:
    """preprocess -> predict -> postprocess, as KServe chains them."""

    async def chain():
        call = await transformer.preprocess(body, headers)
        return await transformer.postprocess(await transformer.predict(call, headers), headers)

    return asyncio.run(chain())


def index(world) -> pd.DataFrame:
    return pd.read_parquet(world.settings.layout.retrieval_index)


def test_the_snapshot_holds_every_indexed_candidate(transformer, world):
    snapshot = transformer.snapshot_
    assert sorted(snapshot.columns["account_id"]) == sorted(index(world)["account_id"])
    assert snapshot.model_version == world.model_version and snapshot.as_of_date == "2021-06-30"
    assert not snapshot.degraded


def test_the_feed_orders_like_finalize_scores_on_the_offline_features(transformer, world):
    offline = world.latest.loc[index(world)["account_id"]]
    expected = finalize_scores(
        offline.reset_index(), world.booster.predict(offline[FEATURE_NAMES]), constants=world.constants
    ).head(25)
    investors = pd.DataFrame(feed(transformer, {"top_k": 25})["investors"])
    assert investors["account_id"].tolist() == expected["account_id"].tolist()
    np.testing.assert_allclose(investors["score"], expected["score"])
    np.testing.assert_allclose(investors["confidence"], expected["confidence"])
    np.testing.assert_allclose(
        investors["probability_of_skill"].astype(float), expected["probability_of_skill"]
    )
    assert investors["fdr_pass"].tolist() == expected["fdr_pass"].tolist()
    assert investors["status"].tolist() == expected["status"].tolist()
    assert investors["rank"].tolist() == list(range(1, 26))


def test_the_reply_names_the_model_date_candidates_arm_and_state(transformer, world):
    result = feed(transformer, {"top_k": 3}, {"x-request-id": "req-1"})
    assert result["request_id"] == "req-1"
    assert (result["model_name"], result["model_version"]) == (world.settings.model_name, world.model_version)
    assert result["as_of_date"] == "2021-06-30"
    assert result["candidates"] == len(index(world))
    assert (result["arm"], result["degraded"]) == (UNASSIGNED, False)
    assert len(result["investors"]) == 3 and all(i["reasons"] for i in result["investors"])


def test_reasons_are_the_largest_contributions_then_the_probability_of_skill(transformer, predictor, world):
    [investor] = feed(transformer, {"top_k": 1})["investors"]
    row = world.latest.loc[[investor["account_id"]], FEATURE_NAMES]
    [contributions] = predictor.predict({"instances": row.to_dict("records"), "explain": True})[
        "contributions"
    ]
    no_skill_share = world.constants.skill_prior.no_skill_share
    probability = probability_reason(investor["probability_of_skill"], no_skill_share)
    assert investor["reasons"] == reasons(contributions, row.iloc[0].to_dict()) + [probability]


def test_the_predictor_is_called_at_build_only_with_the_model_s_inputs(world, predictor):
    model = make_transformer(world, predictor)
    scored, *explained = model.sent
    n = len(index(world))
    assert [t.name for t in scored.inputs] == ["features"] and scored.inputs[0].shape == [
        n,
        len(FEATURE_NAMES),
    ]
    assert [o.name for o in scored.request_outputs] == ["predictions"]
    assert len(explained) == math.ceil(n / CONTRIBUTION_CHUNK)
    assert all([o.name for o in r.request_outputs] == ["contributions"] for r in explained)
    for viewer in range(20):
        feed(model, {"viewer_id": f"u-{viewer}", "top_k": 5})
    assert len(model.sent) == 1 + len(explained)  # no predictor call per request


def test_new_accounts_get_the_neutral_score_and_no_confidence(transformer, world):
    new = [i for i in feed(transformer, {"top_k": 100})["investors"] if i["status"] == "new"]
    assert new, "the world has new accounts among the candidates"
    assert [i["score"] for i in new] == pytest.approx([world.constants.neutral_score] * len(new))
    assert {i["confidence"] for i in new} == {0.0}


def test_excluded_accounts_are_not_in_the_feed(transformer):
    top = [i["account_id"] for i in feed(transformer, {"top_k": 3})["investors"]]
    again = feed(transformer, {"top_k": 3, "exclude_account_ids": [*top[:2], "no-such-account"]})
    assert not set(top[:2]) & {i["account_id"] for i in again["investors"]}
    assert again["investors"][0]["account_id"] == top[2]


def test_max_risk_keeps_investors_at_or_below_that_volatility(transformer, world):
    limit = float(world.latest["volatility_12m"].median())
    investors = feed(transformer, {"top_k": 100, "max_risk": limit})["investors"]
    volatility = world.latest.loc[[i["account_id"] for i in investors], "volatility_12m"]
    assert len(investors) > 0 and (volatility <= limit).all()
    unfiltered = [i["account_id"] for i in feed(transformer, {"top_k": 100})["investors"]]
    assert [a for a in unfiltered if world.latest.loc[a, "volatility_12m"] <= limit][: len(investors)] == [
        i["account_id"] for i in investors
    ]


def test_a_sector_filter_needs_sectors_in_the_index(transformer):
    with pytest.raises(InvalidInput, match="knows no sectors"):
        feed(transformer, {"sectors": ["Technology"]})


def test_sectors_filter_and_diversify_the_feed(world, predictor):
    model = make_transformer(world, predictor)
    ids = model.snapshot_.columns["account_id"]
    sectors = np.where(np.arange(len(ids)) % 3 == 0, "Energy", "Technology").astype(object)
    snapshot = model.snapshot_
    model.snapshot_ = type(snapshot)(
        snapshot.columns | {SECTOR: sectors}, snapshot.model_version, snapshot.as_of_date, snapshot.key
    )
    only = feed(model, {"top_k": 5, "sectors": ["Energy"]})["investors"]
    assert len(only) == 5 and all(sectors[list(ids).index(i["account_id"])] == "Energy" for i in only)
    mixed = feed(model, {"top_k": 10})["investors"]
    shown = [sectors[list(ids).index(i["account_id"])] for i in mixed]
    # At most 40% of ten from one sector while the other has investors left; the rest filled in order.
    assert len(mixed) == 10 and shown[:8].count("Technology") == 4 and shown[:8].count("Energy") == 4


def test_the_control_arm_is_ordered_by_roi_times_log_days(world, predictor):
    model = make_transformer(world, predictor, ab_treatment_share=0.0)
    result = feed(model, {"viewer_id": "u-1", "top_k": 10})
    assert result["arm"] == CONTROL
    rows = world.latest.loc[index(world)["account_id"]]
    heuristic = (rows["roi_since_inception"] * np.log1p(rows["tenure_days"])).sort_values(ascending=False)
    assert [i["account_id"] for i in result["investors"]] == heuristic.index[:10].tolist()
    assert [i["score"] for i in result["investors"]] == pytest.approx(heuristic.iloc[:10].tolist())
    assert all(i["reasons"][0].endswith("since inception") for i in result["investors"])


def test_the_treatment_arm_sees_the_model_s_order(world, predictor, transformer):
    model = make_transformer(world, predictor, ab_treatment_share=1.0)
    result = feed(model, {"viewer_id": "u-1", "top_k": 10})
    assert result["arm"] == TREATMENT
    assert result["investors"] == feed(transformer, {"top_k": 10})["investors"]


def test_without_a_model_every_viewer_gets_the_heuristic_flagged_until_one_scores(world, predictor):
    # A fresh install, or no challenger has passed the gate: the predictor has no champion to serve.
    model = RetrievalTransformer(
        world.settings.model_name, world.settings.model_copy(update={"ab_treatment_share": 1.0})
    )

    async def no_champion(request):
        raise InferenceError("Model with name skillrank is not ready.")

    model.call_predictor = no_champion
    assert model.load() and model.ready
    result = feed(model, {"viewer_id": "u-1", "top_k": 10})
    assert result["arm"] == TREATMENT  # a treatment viewer, yet no model to show
    assert (result["ranking"], result["model_version"], result["degraded"]) == ("heuristic", None, True)
    rows = world.latest.loc[index(world)["account_id"]]
    heuristic = (rows["roi_since_inception"] * np.log1p(rows["tenure_days"])).sort_values(ascending=False)
    assert [i["account_id"] for i in result["investors"]] == heuristic.index[:10].tolist()
    assert all(i["probability_of_skill"] is None and not i["fdr_pass"] for i in result["investors"])

    model.call_predictor = wire(predictor)  # the first champion is promoted
    assert asyncio.run(model.reload()) == world.model_version
    result = feed(model, {"viewer_id": "u-1", "top_k": 10})
    assert (result["ranking"], result["model_version"], result["degraded"]) == (
        "model",
        world.model_version,
        False,
    )


def test_the_reply_says_which_ranking_each_arm_is_served(world, predictor):
    control = feed(make_transformer(world, predictor, ab_treatment_share=0.0), {"viewer_id": "u-1"})
    treatment = feed(make_transformer(world, predictor, ab_treatment_share=1.0), {"viewer_id": "u-1"})
    assert (control["ranking"], treatment["ranking"]) == ("heuristic", "model")


def test_a_v2_feed_request_gets_the_feed_as_tensors(transformer):
    request = InferRequest(
        transformer.name,
        [InferInput("viewer_id", [1], "BYTES", data=["u-7"]), InferInput("top_k", [1], "INT32", data=[4])],
        request_id="v2-1",
    )
    response = feed(transformer, request)
    assert isinstance(response, InferResponse) and response.id == "v2-1"
    v1 = feed(transformer, {"viewer_id": "u-7", "top_k": 4})
    assert response.get_output_by_name("account_id").data.tolist() == [
        i["account_id"] for i in v1["investors"]
    ]
    assert response.get_output_by_name("rank").data.tolist() == [1, 2, 3, 4]
    assert response.parameters["arm"] == v1["arm"] and response.parameters["degraded"] is False


def test_candidates_without_online_features_are_skipped(world, predictor):
    model = make_transformer(world, predictor)
    ghost = pd.DataFrame(
        {"account_id": ["ghost"], "as_of_date": [pd.Timestamp("2021-06-30")], "prior": [9.0]}
    )
    candidates = asyncio.run(model._online_features(pd.concat([ghost, index(world)], ignore_index=True)))
    assert "ghost" not in candidates["account_id"].tolist() and len(candidates) == len(index(world))


def test_an_abandoned_online_read_stops_before_its_next_chunk(transformer, world):
    abandoned = threading.Event()
    abandoned.set()
    with pytest.raises(TimeoutError, match="abandoned"):
        transformer._read_features(index(world)["account_id"].tolist(), abandoned)


def test_a_failed_build_keeps_the_last_snapshot_marked_degraded(world, predictor):
    model = make_transformer(world, predictor)
    before = feed(model, {"top_k": 5})

    async def predictor_down(request):
        raise InferenceError("connection refused")

    model.call_predictor = predictor_down
    with pytest.raises(InferenceError):
        asyncio.run(model.reload())
    after = feed(model, {"top_k": 5})
    assert after["degraded"] is True and after["investors"] == before["investors"]


def test_a_reply_without_scoring_constants_fails_the_build(world, predictor):
    model = make_transformer(world, predictor)
    call = model.call_predictor

    async def no_constants(request):
        reply = await call(request)
        reply.parameters = {"model_version": "1"}
        return reply

    model.call_predictor = no_constants
    with pytest.raises(InferenceError, match="no usable model version and scoring constants"):
        asyncio.run(model.reload())


def test_every_feed_goes_to_the_prediction_log(transformer, world):
    transformer.log_.flush()
    shown = [
        feed(transformer, {"viewer_id": f"u-{n}", "top_k": 3}, {"x-request-id": f"log-{n}"}) for n in range(4)
    ]
    path = transformer.log_.flush()
    table = pyarrow.dataset.dataset(path).to_table()
    assert table.schema.equals(SCHEMA)
    rows = table.to_pandas()
    assert rows["request_id"].tolist() == [f"log-{n}" for n in range(4) for _ in range(3)]
    assert rows["account_id"].tolist() == [i["account_id"] for f in shown for i in f["investors"]]
    assert rows["rank"].tolist() == [1, 2, 3] * 4
    assert rows["arm"].tolist() == [f["arm"] for f in shown for _ in range(3)]
    assert set(rows["model_version"]) == {world.model_version}
    assert str(rows["as_of_date"].iloc[0]) == "2021-06-30"
    np.testing.assert_allclose(rows["score"], [i["score"] for f in shown for i in f["investors"]])


def test_the_deadline_passed_before_preprocess_is_a_503(transformer):
    from inference.server import DEADLINE_HEADER, DeadlineExceeded

    with pytest.raises(DeadlineExceeded, match="deadline passed before preprocess"):
        feed(transformer, {"top_k": 3}, {DEADLINE_HEADER: "0.0"})


def test_load_fails_loudly_without_a_retrieval_index(tmp_path, world):
    model = RetrievalTransformer("skillrank", Settings(data_root=tmp_path))
    with pytest.raises(RuntimeError):
        model.load()
    assert not model.ready


def test_main_has_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "--predictor_host" in capsys.readouterr().out


def test_main_requires_a_predictor_host(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--predictor_host is required" in capsys.readouterr().err
