"""A fresh install: both servers start before any champion, index or features exist, as the pods do.

They are run with the manifests' ``--wait_for_model true``: live at once, not ready (503) while there is
nothing to serve, and ready, serving the feed, once the first run has published and promoted.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from components.config.settings import Settings
from inference.serve import settings_env
from inference.server import load_or_wait
from tests.inference.test_serve_http import free_port
from tests.serving_world import build_world

MODEL = "skillrank"


def start(role: str, port: int, settings: Settings, log, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", f"inference.{role}", "--model_name", MODEL, "--http_port", str(port)]
    command += ["--bind_host", "127.0.0.1", "--enable_grpc", "false", "--wait_for_model", "true", *extra]
    return subprocess.Popen(command, env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT)


def status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def wait_for(url: str, code: int, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while status(url) != code:
        assert all(process.poll() is None for process in processes), "a server exited"
        assert time.monotonic() < deadline, f"{url} did not answer {code} within {timeout:g} s"
        time.sleep(0.2)


def wait_for_ranking(url: str, ranking: str, processes: list[subprocess.Popen], timeout: float = 60):
    """The first feed whose reply says it serves `ranking` (every other reply must be a 200 too)."""
    deadline = time.monotonic() + timeout
    while True:
        feed = httpx.post(url, json={"top_k": 5}, timeout=5)
        assert feed.status_code == 200, feed.text
        if feed.json()["ranking"] == ranking:
            return feed
        assert all(process.poll() is None for process in processes), "a server exited"
        assert time.monotonic() < deadline, f"the feed did not serve the {ranking} within {timeout:g} s"
        time.sleep(0.2)


def test_servers_wait_not_ready_for_the_first_champion_then_serve(tmp_path):
    root = tmp_path / "data"
    settings = Settings(data_root=root, serving_poll_seconds=0.5, top_k=5)
    predictor_port, transformer_port = free_port(), free_port()
    with (tmp_path / "servers.log").open("wb") as log:
        processes = [
            start("predictor", predictor_port, settings, log),
            start(
                "transformer",
                transformer_port,
                settings,
                log,
                "--predictor_host",
                f"127.0.0.1:{predictor_port}",
            ),
        ]
        try:
            urls = [f"http://127.0.0.1:{port}" for port in (predictor_port, transformer_port)]
            for url in urls:
                wait_for(f"{url}/v2/health/live", 200, processes)
            time.sleep(2)  # several polls find nothing to serve
            for url in urls:
                assert status(f"{url}/v2/models/{MODEL}/ready") == 503
            feed = httpx.post(f"{urls[1]}/v1/models/{MODEL}:predict", json={"top_k": 5})
            assert feed.status_code == 503

            world = build_world(root, n_accounts=40, top_k=5)  # the first run: features, index, champion

            for url in urls:
                wait_for(f"{url}/v2/models/{MODEL}/ready", 200, processes)
            # Features and an index before the champion: the heuristic, flagged, until the model scores.
            feed = wait_for_ranking(f"{urls[1]}/v1/models/{MODEL}:predict", "model", processes)
            assert feed.status_code == 200, feed.text
            assert feed.json()["model_version"] == world.model_version
            assert len(feed.json()["investors"]) == 5
        finally:
            for process in processes:
                process.terminate()
                process.wait(15)
    assert "is not ready, trying again every 0.5 s" in (tmp_path / "servers.log").read_text()


class NeverLoads:
    name = MODEL
    ready = True

    def load(self) -> bool:
        raise RuntimeError("no champion")


def test_without_waiting_a_failed_load_is_raised():
    with pytest.raises(RuntimeError, match="no champion"):
        load_or_wait(NeverLoads(), wait=False, poll_seconds=10)


def test_waiting_leaves_the_model_not_ready():
    model = NeverLoads()
    assert load_or_wait(model, wait=True, poll_seconds=10) is False and model.ready is False


def test_waiting_needs_a_poll_interval():
    with pytest.raises(ValueError, match="--poll_seconds above 0"):
        load_or_wait(NeverLoads(), wait=True, poll_seconds=0)
