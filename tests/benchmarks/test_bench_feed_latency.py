"""Latency of one feed request through real HTTP (transformer -> Feast online store -> predictor), by size.

Both sizes are served side by side in one run (tiny seeded worlds, `inference.serve.serve` on loopback).
"""

import socket
import statistics
import time

import httpx

from inference.serve import serve
from tests.serving_world import build_world

SIZES = {50: 66, 1000: 1400}  # candidates wanted -> accounts in the world (about 3 in 4 are eligible)
REQUESTS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def feed_latencies(world) -> tuple[int, list[float]]:
    """Candidates per request and the milliseconds of `REQUESTS` sequential requests (keep-alive)."""
    with serve(world.settings, transformer_port=free_port(), predictor_port=free_port()) as servers:
        url = f"{servers.url}/v1/models/{world.settings.model_name}:predict"
        with httpx.Client(timeout=30) as client:
            candidates = client.post(url, json={}).json()["candidates"]  # warm-up
            times = []
            for _ in range(REQUESTS):
                start = time.perf_counter()
                client.post(url, json={}).raise_for_status()
                times.append((time.perf_counter() - start) * 1000)
    return candidates, sorted(times)


def test_feed_latency_by_number_of_candidates(tmp_path):
    rows = []
    for wanted, n_accounts in SIZES.items():
        world = build_world(tmp_path / str(wanted), n_accounts=n_accounts, top_k=20, max_candidates=1000)
        rows.append(feed_latencies(world))
    print(f"\n{'candidates':>10} {'p50 ms':>8} {'p90 ms':>8}   ({REQUESTS} sequential requests, keep-alive)")
    for candidates, times in rows:
        print(f"{candidates:>10} {statistics.median(times):>8.1f} {times[int(0.9 * len(times))]:>8.1f}")
    assert [candidates for candidates, _ in rows] == sorted(candidates for candidates, _ in rows)
    assert rows[-1][0] == 1000
