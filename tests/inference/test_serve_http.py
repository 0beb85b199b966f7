"""Both servers as real processes on loopback, started by `serve`, called over HTTP like the app does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import numpy as np
import pytest
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from components.config.settings import Settings
from components.scoring.finalize import ScoringConstants
from inference.serve import serve, settings_env, wait_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory):
    with serve(
        world.settings,
        transformer_port=free_port(),
        predictor_port=free_port(),
        log_dir=tmp_path_factory.mktemp("serve-logs"),
    ) as running:
        yield running
    assert all(process.poll() is not None for process in running.processes.values())


@pytest.fixture(scope="module")
def feed_url(servers, world) -> str:
    return f"{servers.url}/v1/models/{world.settings.model_name}:predict"


def test_both_servers_report_the_model_ready(servers, world):
    for url in (servers.url, servers.predictor_url):
        response = httpx.get(f"{url}/v1/models/{world.settings.model_name}")
        assert response.status_code == 200
        assert response.json() == {"name": world.settings.model_name, "ready": True}


def test_servers_listen_on_loopback_only(servers):
    for role, url in (("transformer", servers.url), ("predictor", servers.predictor_url)):
        assert f"Uvicorn running on {url} " in servers.logs[role].read_text()


def test_feed_returns_top_k_investors_by_score(feed_url, world):
    response = httpx.post(feed_url, json={"top_k": 5}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == world.model_version
    assert body["as_of_date"] == "2021-06-30"
    investors = body["investors"]
    assert [i["rank"] for i in investors] == [1, 2, 3, 4, 5]
    scores = [i["score"] for i in investors]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= i["confidence"] <= 1 and i["status"] in {"new", "established"} for i in investors)
    assert all(isinstance(i["fdr_pass"], bool) for i in investors)
    assert all(i["probability_of_skill"] is None or 0 <= i["probability_of_skill"] <= 1 for i in investors)
    # explained by the predictor in a second call: contribution sentences, then the probability of skill
    for investor in investors:
        *explained, probability = investor["reasons"]
        assert explained and all(r.endswith(("lifted the score", "lowered the score")) for r in explained)
        assert probability == f"probability of skill {investor['probability_of_skill']:.0%}"


def test_feed_accepts_the_body_of_a_plain_curl(feed_url, world):
    # curl -d '{}' sends application/x-www-form-urlencoded; the body is still JSON.
    response = httpx.post(
        feed_url, content=b"{}", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["investors"]) == world.settings.top_k


def test_bad_top_k_is_a_400_with_a_clear_message(feed_url):
    response = httpx.post(feed_url, json={"top_k": 1000})
    assert response.status_code == 400
    assert response.json() == {"error": "top_k must be an integer from 1 to 100, got 1000"}


@pytest.fixture(scope="module")
def predictor_urls(servers, world) -> tuple[str, str]:
    """The predictor's v1 predict and v2 infer URLs."""
    base, name = servers.predictor_url, world.settings.model_name
    return f"{base}/v1/models/{name}:predict", f"{base}/v2/models/{name}/infer"


@pytest.fixture(scope="module")
def rows(world) -> np.ndarray:
    """Three feature rows in the champion's feature order."""
    return world.latest[world.booster.feature_name()].head(3).to_numpy()


def v2_body(rows: np.ndarray, shape: list[int] | None = None) -> dict:
    return {
        "id": "r-1",
        "inputs": [
            {
                "name": "features",
                "shape": shape or list(rows.shape),
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ],
    }


def assert_v2_reply(body: dict, world, rows: np.ndarray) -> None:
    assert (body["id"], body["model_name"], body["model_version"]) == (
        "r-1",
        world.settings.model_name,
        world.model_version,
    )
    [output] = body["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("predictions", "FP64", [len(rows)])
    assert output["data"] == pytest.approx(world.booster.predict(rows).tolist())
    assert ScoringConstants.from_tags(body["parameters"]) == world.constants


def test_predictor_answers_v1_instances_by_name_with_contributions(predictor_urls, world, rows):
    names = world.booster.feature_name()
    instances = [dict(zip(names, row, strict=True)) for row in rows.tolist()]
    response = httpx.post(predictor_urls[0], json={"instances": instances, "explain": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == pytest.approx(world.booster.predict(rows).tolist())
    assert (body["model_name"], body["model_version"]) == (world.settings.model_name, world.model_version)
    assert ScoringConstants.from_tags(body["scoring_constants"]) == world.constants
    assert [len(c) for c in body["contributions"]] == [3] * len(rows)
    assert all(set(c) <= set(names) for c in body["contributions"])


def test_predictor_answers_v1_rows_in_feature_order(predictor_urls, world, rows):
    response = httpx.post(predictor_urls[0], json={"instances": rows.tolist()})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == pytest.approx(world.booster.predict(rows).tolist())
    assert "contributions" not in response.json()


def test_predictor_answers_an_empty_v1_batch(predictor_urls):
    response = httpx.post(predictor_urls[0], json={"instances": []})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == []


def test_v1_instance_without_a_feature_is_a_400_naming_it(predictor_urls, world, rows):
    instance = dict(zip(world.booster.feature_name(), rows[0].tolist(), strict=True))
    del instance["alpha_tstat_12m"]
    response = httpx.post(predictor_urls[0], json={"instances": [instance]})
    assert response.status_code == 400
    assert response.json()["error"].startswith("instances lack the features ['alpha_tstat_12m']")


def test_v1_non_numeric_values_are_a_400(predictor_urls, rows):
    response = httpx.post(predictor_urls[0], json={"instances": [["high"] * rows.shape[1]]})
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"instances must be rows of {rows.shape[1]} numbers")


def test_predictor_answers_v2_requests(predictor_urls, world, rows):
    response = httpx.post(predictor_urls[1], json=v2_body(rows))
    assert response.status_code == 200, response.text
    assert_v2_reply(response.json(), world, rows)


def test_v2_json_without_a_content_type_is_a_400_naming_the_header_kserve_needs(predictor_urls, rows):
    # tritonclient's JSON-only request carries neither a Content-Type nor Inference-Header-Content-Length;
    # KServe 0.21 reads such a body as binary tensors and refuses it (a client must send one of the two).
    request = httpx.Request("POST", predictor_urls[1], content=json.dumps(v2_body(rows)).encode())
    assert "content-type" not in request.headers
    with httpx.Client() as client:
        response = client.send(request)
    assert response.status_code == 400
    assert f"'{INFERENCE_CONTENT_LENGTH_HEADER}' header is missing" in response.json()["error"]


def test_v2_json_with_only_the_json_length_header(predictor_urls, world, rows):
    content = json.dumps(v2_body(rows)).encode()
    request = httpx.Request(
        "POST",
        predictor_urls[1],
        content=content,
        headers={INFERENCE_CONTENT_LENGTH_HEADER: str(len(content))},
    )
    assert "content-type" not in request.headers
    with httpx.Client() as client:
        response = client.send(request)
    assert response.status_code == 200, response.text
    assert_v2_reply(response.json(), world, rows)


def test_v2_binary_tensors_in_and_out(predictor_urls, world, rows):
    tensor = InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=True)
    request = InferRequest(
        world.settings.model_name, [tensor], request_id="r-1", parameters={"binary_data_output": True}
    )
    content, json_length = request.to_rest()
    response = httpx.post(
        predictor_urls[1],
        content=content,
        headers={
            INFERENCE_CONTENT_LENGTH_HEADER: str(json_length),
            "content-type": "application/octet-stream",
        },
    )
    assert response.status_code == 200, response.text
    json_length = int(response.headers[INFERENCE_CONTENT_LENGTH_HEADER])
    header = json.loads(response.content[:json_length])  # from_bytes drops the model version and parameters
    assert (header["id"], header["model_version"]) == ("r-1", world.model_version)
    assert ScoringConstants.from_tags(header["parameters"]) == world.constants
    reply = InferResponse.from_bytes(response.content, json_length)
    np.testing.assert_allclose(reply.outputs[0].as_numpy(), world.booster.predict(rows))


def test_v2_data_that_does_not_fill_its_shape_is_a_400(predictor_urls, rows):
    response = httpx.post(predictor_urls[1], json=v2_body(rows, shape=[len(rows) + 1, rows.shape[1]]))
    assert response.status_code == 400
    assert response.json()["error"].startswith('the v2 input "features" (FP64, shape [4, ')


def test_v2_rows_of_the_wrong_width_are_a_400(predictor_urls, rows):
    response = httpx.post(predictor_urls[1], json=v2_body(rows[:, :3]))
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"expected {rows.shape[1]} features per row")


def test_predictor_answers_an_empty_v2_batch(predictor_urls, rows):
    response = httpx.post(predictor_urls[1], json=v2_body(np.empty((0, rows.shape[1]))))
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == []


def test_waiting_stops_with_the_log_tail_when_a_server_exits(tmp_path):
    log = tmp_path / "predictor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "print('cannot load the model'); raise SystemExit(1)"], stdout=out
        )
    with pytest.raises(
        RuntimeError, match="(?s)the predictor exited with code 1; its log ends with:.*cannot load"
    ):
        wait_ready("predictor", f"http://127.0.0.1:{free_port()}/v1/models/m", process, log)


def test_waiting_is_bounded(tmp_path):
    log = tmp_path / "transformer.log"
    log.write_text("still loading\n")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as process:
        with pytest.raises(RuntimeError, match="(?s)not ready at .* after 0.5 s.*still loading"):
            wait_ready(
                "transformer", f"http://127.0.0.1:{free_port()}/v1/models/m", process, log, timeout=0.5
            )
        process.kill()


def test_settings_reach_the_servers_intact(monkeypatch, tmp_path):
    settings = Settings(
        data_root=tmp_path, top_k=7, min_diversification=0.35, mlflow_tracking_uri="http://mlflow:5000"
    )
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings
