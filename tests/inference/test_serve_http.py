"""Both servers as real processes on loopback, started by `serve`, called over HTTP as clients do.

The shared world's servers answer the protocol tests; the fallback tests break things (kill the
predictor, take the online store away), so each runs on servers and a world of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pyarrow.dataset
import pytest
import tritonclient.http as triton
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse
from tritonclient.utils import InferenceServerException

from components.config.settings import Settings
from components.config.tracking import mlflow_client
from components.scoring.finalize import ScoringConstants
from inference.serve import serve, settings_env, wait_ready
from tests.serving_world import build_world, register_again

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(world_settings, log_dir, **overrides):
    return serve(
        world_settings.model_copy(update=overrides),
        transformer_port=free_port(),
        predictor_port=free_port(),
        log_dir=log_dir,
    )


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory):
    with start(world.settings, tmp_path_factory.mktemp("serve-logs"), serving_poll_seconds=1.0) as running:
        yield running
    assert all(process.poll() is not None for process in running.processes.values())


@pytest.fixture(scope="module")
def feed_url(servers, world) -> str:
    return f"{servers.url}/v1/models/{world.settings.model_name}:predict"


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


# --- the feed ----------------------------------------------------------------------------------


def test_both_servers_report_the_model_ready(servers, world):
    for url in (servers.url, servers.predictor_url):
        response = httpx.get(f"{url}/v1/models/{world.settings.model_name}")
        assert response.status_code == 200
        assert response.json() == {"name": world.settings.model_name, "ready": True}
        assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}


def test_servers_listen_on_loopback_only(servers):
    for role, url in (("transformer", servers.url), ("predictor", servers.predictor_url)):
        assert f"Uvicorn running on {url} " in servers.logs[role].read_text()


def test_requests_are_not_logged_at_info(servers, feed_url):
    httpx.post(feed_url, json={"top_k": 1}).raise_for_status()
    time.sleep(0.2)
    for role in ("transformer", "predictor"):
        assert '"POST /v' not in servers.logs[role].read_text()


def test_feed_returns_top_k_investors_by_score(feed_url, world):
    response = httpx.post(feed_url, json={"viewer_id": "u-1", "top_k": 5}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_version"], body["as_of_date"], body["degraded"]) == (
        world.model_version,
        "2021-06-30",
        False,
    )
    assert body["arm"] in ("treatment", "control") and body["request_id"]
    investors = body["investors"]
    assert [i["rank"] for i in investors] == [1, 2, 3, 4, 5]
    scores = [i["score"] for i in investors]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= i["confidence"] <= 1 and i["status"] in {"new", "established"} for i in investors)
    assert all(i["reasons"] for i in investors)


def test_feed_accepts_the_body_of_a_plain_curl(feed_url, world):
    # curl -d '{}' sends application/x-www-form-urlencoded; the body is still JSON.
    response = httpx.post(
        feed_url, content=b"{}", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["investors"]) == world.settings.top_k


def test_the_feed_speaks_v2(servers, world, feed_url):
    url = f"{servers.url}/v2/models/{world.settings.model_name}/infer"
    body = {
        "id": "feed-1",
        "inputs": [
            {"name": "viewer_id", "shape": [1], "datatype": "BYTES", "data": ["u-1"]},
            {"name": "top_k", "shape": [1], "datatype": "INT64", "data": [4]},
            {"name": "exclude_account_ids", "shape": [1], "datatype": "BYTES", "data": ["acc-0000"]},
        ],
    }
    response = httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    reply = response.json()
    outputs = {o["name"]: o["data"] for o in reply["outputs"]}
    v1 = httpx.post(
        feed_url, json={"viewer_id": "u-1", "top_k": 4, "exclude_account_ids": ["acc-0000"]}
    ).json()
    assert outputs["account_id"] == [i["account_id"] for i in v1["investors"]]
    assert outputs["rank"] == [1, 2, 3, 4] and reply["id"] == "feed-1"
    assert reply["parameters"]["arm"] == v1["arm"] and reply["model_version"] == world.model_version


def test_a_viewer_always_gets_the_same_arm_and_viewers_split_by_the_share(feed_url):
    arms = {}
    for n in range(120):
        arms[n] = httpx.post(feed_url, json={"viewer_id": f"viewer-{n}", "top_k": 1}).json()["arm"]
    again = {
        n: httpx.post(feed_url, json={"viewer_id": f"viewer-{n}", "top_k": 1}).json()["arm"]
        for n in range(20)
    }
    assert all(arms[n] == arm for n, arm in again.items())
    treated = sum(arm == "treatment" for arm in arms.values())
    assert 40 <= treated <= 80  # a share of 0.5: binomial(120, 0.5) is within 40..80 but for 1 in 10^4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"top_k": 1000}, "top_k must be an integer from 1 to 100, got 1000"),
        ({"viewer_id": ""}, "viewer_id must be a string"),
        ({"max_risk": -1}, "max_risk must be a non-negative number"),
        ({"sectors": "Energy"}, "sectors must be a list"),
        ({"sectors": ["Energy"]}, "knows no sectors"),
        ({"exclude_account_ids": [1]}, "exclude_account_ids must be a list of account ids"),
        ({"colour": "red"}, "unknown keys ['colour']"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_feed_requests_are_a_400_saying_what_is_wrong(feed_url, body, message):
    response = httpx.post(feed_url, json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
feed_fields = st.fixed_dictionaries(
    {},
    optional={
        "viewer_id": json_values | st.text(min_size=1, max_size=200),
        "top_k": json_values | st.integers(-5, 200),
        "sectors": json_values | st.lists(st.text(max_size=20), max_size=5),
        "max_risk": json_values | st.floats(allow_nan=True, allow_infinity=True),
        "exclude_account_ids": json_values | st.lists(st.text(max_size=20), max_size=5),
    },
)
feed_bodies = feed_fields | st.dictionaries(st.text(max_size=10), json_values, max_size=3) | json_values


@FUZZ
@given(body=feed_bodies)
def test_no_feed_request_is_a_server_error(feed_url, body):
    content = json.dumps(body, allow_nan=True).encode()
    response = httpx.post(feed_url, content=content, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]


def test_metrics_show_kserve_s_stage_latencies_and_the_feed_s_own(servers, feed_url, world):
    httpx.post(feed_url, json={"viewer_id": "u-1"}).raise_for_status()
    text = httpx.get(f"{servers.url}/metrics").text
    for metric in (
        'request_preprocess_seconds_count{model_name="skillrank"}',
        'request_predict_seconds_count{model_name="skillrank"}',
        "skillrank_feeds_total{",
        'skillrank_snapshot_build_seconds_count{stage="predictor"}',
        "skillrank_snapshot_built_timestamp_seconds",
    ):
        assert metric in text
    predictor = httpx.get(f"{servers.predictor_url}/metrics").text
    assert f'skillrank_model_version{{model_name="skillrank"}} {float(world.model_version)}' in predictor


# --- the predictor -----------------------------------------------------------------------------


def test_predictor_answers_v1_instances_by_name_with_contributions(predictor_urls, world, rows):
    names = world.booster.feature_name()
    instances = [dict(zip(names, row, strict=True)) for row in rows.tolist()]
    response = httpx.post(predictor_urls[0], json={"instances": instances, "explain": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == pytest.approx(world.booster.predict(rows).tolist())
    assert ScoringConstants.from_tags(body["scoring_constants"]) == world.constants
    assert [len(c) for c in body["contributions"]] == [3] * len(rows)


def test_predictor_answers_v2_requests(predictor_urls, world, rows):
    response = httpx.post(predictor_urls[1], json=v2_body(rows))
    assert response.status_code == 200, response.text
    assert_v2_reply(response.json(), world, rows)


def test_v2_json_without_a_content_type_is_json(predictor_urls, world, rows):
    # tritonclient's JSON-only request carries neither a Content-Type nor Inference-Header-Content-Length.
    request = httpx.Request("POST", predictor_urls[1], content=json.dumps(v2_body(rows)).encode())
    assert "content-type" not in request.headers
    with httpx.Client() as client:
        response = client.send(request)
    assert response.status_code == 200, response.text
    assert_v2_reply(response.json(), world, rows)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("version", ["", "served"])
def test_a_stock_tritonclient_request(servers, world, rows, binary, version):
    client = triton.InferenceServerClient(url=servers.predictor_url.removeprefix("http://"))
    tensor = triton.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [triton.InferRequestedOutput("predictions", binary_data=binary)]
    model_version = world.model_version if version else ""
    result = client.infer(world.settings.model_name, [tensor], model_version=model_version, outputs=outputs)
    np.testing.assert_allclose(result.as_numpy("predictions"), world.booster.predict(rows))
    assert client.is_model_ready(world.settings.model_name)
    client.close()


def test_tritonclient_asking_for_another_version_gets_a_404(servers, world, rows):
    client = triton.InferenceServerClient(url=servers.predictor_url.removeprefix("http://"))
    tensor = triton.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)
    with pytest.raises(InferenceServerException, match="version 999 is not served") as error:
        client.infer(world.settings.model_name, [tensor], model_version="999")
    assert error.value.status() == "404"
    client.close()


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
    reply = InferResponse.from_bytes(response.content, int(response.headers[INFERENCE_CONTENT_LENGTH_HEADER]))
    np.testing.assert_allclose(reply.outputs[0].as_numpy(), world.booster.predict(rows))
    assert reply.parameters["model_version"] == world.model_version


def raw(url: str, content: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, content=content, headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        (b'{"inputs": []}', {INFERENCE_CONTENT_LENGTH_HEADER: "abc"}, "header must be the length"),
        (b'{"inputs": []}', {INFERENCE_CONTENT_LENGTH_HEADER: "9999"}, "header must be the length"),
        (
            b'{"inputs": [{"name": "features", "shape": [1, 6], "datatype": "FP64",'
            b' "parameters": {"binary_data_size": 4800}}]}',
            {INFERENCE_CONTENT_LENGTH_HEADER: "all"},  # all of the body is JSON: no binary data follow
            "runs past the end of the body",
        ),
        (
            b'{"inputs": [{"name": "features", "shape": [2, 6], "datatype": "FP64", "data": [1]}]}',
            {},
            "do not fill",
        ),
        (
            b'{"inputs": [{"name": "features", "shape": [1000000000000, 6], "datatype": "FP64",'
            b' "data": [1]}]}',
            {},
            "holds more than",
        ),
        (
            b'{"inputs": [{"name": "features", "shape": [1, 6], "datatype": "FP64",'
            b' "data": ["a", "b", "c", "d", "e", "f"]}]}',
            {},
            "must be numbers",
        ),
        (
            b'{"inputs": [{"name": "features", "shape": [1.5], "datatype": "FP64", "data": [1]}]}',
            {},
            "list of integers",
        ),
        (
            b'{"inputs": [{"name": "features", "shape": [1], "datatype": "FP99", "data": [1]}]}',
            {},
            "unknown datatype",
        ),
        (b"not json", {}, "not valid JSON"),
    ],
)
def test_malformed_v2_requests_are_a_400_with_a_message(predictor_urls, content, headers, message):
    headers = {k: str(len(content)) if v == "all" else v for k, v in headers.items()}
    response = raw(predictor_urls[1], content, headers)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_a_version_that_is_not_served_is_a_404(servers, world, rows):
    url = f"{servers.predictor_url}/v2/models/{world.settings.model_name}/versions/999/infer"
    response = httpx.post(url, json=v2_body(rows))
    assert response.status_code == 404
    assert "version 999 is not served" in response.json()["error"]


def test_an_unknown_model_is_a_404(servers, rows):
    response = httpx.post(f"{servers.predictor_url}/v2/models/nobody/infer", json=v2_body(rows))
    assert response.status_code == 404


v2_tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["features", "x"]) | json_values,
        "shape": st.lists(st.integers(-2, 8), max_size=3) | json_values,
        "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BYTES", "BOOL", "FP16"]) | json_values,
    },
    optional={"data": st.lists(st.floats() | st.integers() | st.text(max_size=3), max_size=20) | json_values},
)
v2_documents = st.fixed_dictionaries(
    {"inputs": st.lists(v2_tensors, max_size=2) | json_values},
    optional={"id": json_values, "outputs": json_values, "parameters": json_values},
)


@FUZZ
@given(
    document=v2_documents | json_values,
    length=st.none() | st.integers(-5, 400).map(str) | st.from_regex(r"[ -~]{0,4}", fullmatch=True),
)
def test_no_v2_request_is_a_server_error(predictor_urls, document, length):
    content = json.dumps(document, allow_nan=True).encode()
    headers = {} if length is None else {INFERENCE_CONTENT_LENGTH_HEADER: length}
    response = raw(predictor_urls[1], content, headers)
    assert response.status_code in (200, 400, 404), response.text


def test_unloading_is_refused_and_loading_really_reloads(servers, world):
    name = world.settings.model_name
    response = httpx.post(f"{servers.predictor_url}/v2/repository/models/{name}/unload")
    assert response.status_code == 403 and "disabled" in response.json()["error"]
    assert httpx.get(f"{servers.predictor_url}/v2/models/{name}/ready").status_code == 200
    for url in (servers.predictor_url, servers.url):
        assert httpx.post(f"{url}/v2/repository/models/{name}/load", timeout=60).json() == {
            "name": name,
            "load": True,
        }


# --- hot reload, fallbacks, deadline, lifecycle -------------------------------------------------


@pytest.fixture
def own_world(tmp_path):
    """A world these servers may break."""
    return build_world(tmp_path / "world", n_accounts=60, top_k=5)


def promote_copy(world) -> str:
    """Register the champion's model again as a new version, promote it, and return its number."""
    new = register_again(world.settings, world.model_version, world.constants.to_tags())
    mlflow_client(world.settings).set_registered_model_alias(world.settings.model_name, "champion", new)
    return new


def test_a_new_champion_reaches_the_feed_under_load_without_a_failed_request(own_world, tmp_path):
    with start(own_world.settings, tmp_path / "logs", serving_poll_seconds=0.5) as running:
        url = f"{running.url}/v1/models/{own_world.settings.model_name}:predict"
        statuses, versions, stop = [], set(), threading.Event()

        def load():
            with httpx.Client(timeout=10) as client:
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    response = client.post(url, json={"viewer_id": f"u-{len(statuses)}"})
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        versions.add(response.json()["model_version"])
                    time.sleep(0.005)

        sender = threading.Thread(target=load)
        sender.start()
        time.sleep(1)
        new = promote_copy(own_world)
        waited = time.monotonic()
        while new not in versions and time.monotonic() - waited < 30:
            time.sleep(0.2)
        stop.set()
        sender.join()
    assert versions == {own_world.model_version, new}
    assert len(statuses) > 50 and set(statuses) == {200}


def test_the_feed_comes_from_cached_scores_when_the_predictor_dies(own_world, tmp_path):
    with start(own_world.settings, tmp_path / "logs", serving_poll_seconds=0.3) as running:
        url = f"{running.url}/v1/models/{own_world.settings.model_name}:predict"
        before = httpx.post(url, json={"top_k": 5}).json()
        running.processes["predictor"].kill()
        running.processes["predictor"].wait()
        time.sleep(1.5)
        after = httpx.post(url, json={"top_k": 5})
        assert after.status_code == 200
        assert after.json()["degraded"] is True and after.json()["investors"] == before["investors"]
        assert httpx.get(f"{running.url}/v2/models/{own_world.settings.model_name}/ready").status_code == 200
        metrics = httpx.get(f"{running.url}/metrics").text
        assert 'skillrank_feed_fallbacks_total{cause="predictor"}' in metrics


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of the test's own on a free loopback port, that the test may stop."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is needed to take an online store away")
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=tmp_path) as process:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield process, f"127.0.0.1:{port}"
        process.terminate()


def test_the_last_good_feed_is_served_when_the_online_store_is_gone(own_redis, tmp_path):
    process, address = own_redis
    world = build_world(
        tmp_path / "world", n_accounts=60, top_k=5, online_store="redis", redis_connection_string=address
    )
    with start(world.settings, tmp_path / "logs", serving_poll_seconds=0) as running:
        name = world.settings.model_name
        url = f"{running.url}/v1/models/{name}:predict"
        before = httpx.post(url, json={"top_k": 5}).json()
        process.kill()  # the online store is gone
        process.wait()
        reload = httpx.post(f"{running.url}/v2/repository/models/{name}/load", timeout=60)
        assert reload.status_code == 503  # the reload failed, and says so
        after = httpx.post(url, json={"top_k": 5})
        assert after.status_code == 200
        assert after.json()["degraded"] is True and after.json()["investors"] == before["investors"]
        assert (
            'skillrank_feed_fallbacks_total{cause="online_store"}' in httpx.get(f"{running.url}/metrics").text
        )


def test_a_transformer_restarted_without_a_predictor_serves_the_redis_score_cache(own_world, tmp_path):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, db=6).flushdb()
    except redis.ConnectionError:
        pytest.skip("Redis on 127.0.0.1:6379 is needed for the score cache")
    cached = {
        "score_cache": "redis",
        "redis_connection_string": "127.0.0.1:6379,db=6",
        "serving_poll_seconds": 0,
    }
    with start(own_world.settings, tmp_path / "first", **cached) as running:
        url = f"{running.url}/v1/models/{own_world.settings.model_name}:predict"
        fresh = httpx.post(url, json={"top_k": 5}).json()
    settings = own_world.settings.model_copy(update=cached)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SKILLRANK_")},
        **settings_env(settings),
    }
    command = [
        sys.executable,
        "-m",
        "inference.transformer",
        "--model_name",
        "skillrank",
        "--enable_grpc",
        "false",
    ]
    command += [
        "--bind_host",
        "127.0.0.1",
        "--http_port",
        str(port),
        "--predictor_host",
        f"127.0.0.1:{free_port()}",
    ]
    log = tmp_path / "transformer.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT) as process,
    ):
        try:
            wait_ready("transformer", f"http://127.0.0.1:{port}/v1/models/skillrank", process, log)
            restored = httpx.post(
                f"http://127.0.0.1:{port}/v1/models/skillrank:predict", json={"top_k": 5}
            ).json()
        finally:
            process.terminate()
    assert restored["degraded"] is True and restored["investors"] == fresh["investors"]


def test_past_its_deadline_a_request_is_a_503_with_retry_after(own_world, tmp_path):
    with start(
        own_world.settings, tmp_path / "logs", feed_deadline_seconds=1e-6, serving_poll_seconds=0
    ) as running:
        response = httpx.post(f"{running.url}/v1/models/{own_world.settings.model_name}:predict", json={})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1" and "deadline" in response.json()["error"]


def test_the_prediction_log_has_every_feed_once_the_servers_stop(own_world, tmp_path):
    with start(own_world.settings, tmp_path / "logs", serving_poll_seconds=0) as running:
        url = f"{running.url}/v1/models/{own_world.settings.model_name}:predict"
        feeds = [httpx.post(url, json={"viewer_id": f"u-{n}", "top_k": 2}).json() for n in range(5)]
    table = pyarrow.dataset.dataset(own_world.settings.layout.prediction_log, partitioning="hive").to_table()
    logged = table.to_pandas()
    assert sorted(set(logged["request_id"])) == sorted(f["request_id"] for f in feeds)
    assert len(logged) == 10 and set(logged["viewer_id"]) == {f"u-{n}" for n in range(5)}


def test_skillrank_serve_stops_both_servers_on_sigterm(own_world, tmp_path):
    ports = free_port(), free_port()
    env = {**os.environ, "SKILLRANK_DATA_ROOT": str(own_world.settings.data_root)}
    command = [sys.executable, "-m", "pipelines.cli", "--log-level", "WARNING", "serve"]
    command += ["--transformer-port", str(ports[0]), "--predictor-port", str(ports[1])]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as cli:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{ports[0]}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(60) == 0
    for port in ports:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=1)


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
        data_root=tmp_path,
        top_k=7,
        min_diversification=0.35,
        mlflow_tracking_uri="http://mlflow:5000",
        ab_salt="x",
    )
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings
