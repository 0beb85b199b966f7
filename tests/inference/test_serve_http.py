"""Both servers as real processes on loopback, started by `serve`, called over HTTP like the app does."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from components.config.settings import Settings
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


def test_predictor_answers_v2_requests(servers, world):
    names = world.booster.feature_name()
    row = world.latest[names].iloc[0].tolist()
    request = {"inputs": [{"name": "features", "shape": [1, len(names)], "datatype": "FP64", "data": row}]}
    response = httpx.post(
        f"{servers.predictor_url}/v2/models/{world.settings.model_name}/infer", json=request
    )
    assert response.status_code == 200, response.text
    [output] = response.json()["outputs"]
    assert output["data"] == pytest.approx(world.booster.predict([row]).tolist())


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
