"""The feed at fixed request rates, and the predictor beside MLServer, in one run on one machine.

World: `tests.serving_world` at 20,000 accounts (1,000 candidates per feed), its champion of the
learner's size (500 rounds of 15 leaves). Cores: the servers on core 1, the load generator on core 0
(``os.sched_setaffinity`` / ``taskset``), so the generator never takes the servers' CPU.

1. Feed: transformer -> (snapshot; the predictor scores at build) on loopback, the open-loop generator
   of `tests.benchmarks.loadgen` at 100, 250, 500 and 1,000 requests/s for `SECONDS` each,
   coordinated omission corrected; P50/P95/P99 and errors per rate.
2. Predictor: peak throughput and P99 with ``wrk`` (closed loop, `WRK_CONNECTIONS` connections) at
   batch 1 and at the transformer's batch (1,000 rows), v2 JSON, against MLServer 1.7.1 with its
   LightGBM runtime serving the same booster file, in each of its configurations (``parallel_workers``
   0 and 1), one server at a time on the same core; the ratio is to MLServer's best.

MLServer's pins clash with the project's (pandas 3, fastapi), so it lives in a venv of its own:
``python3.11 -m venv /tmp/mlserver-venv && /tmp/mlserver-venv/bin/pip install mlserver==1.7.1
mlserver-lightgbm==1.7.1 "uvloop<0.21"`` (``MLSERVER`` names another binary; MLServer 1.7.1's parallel
workers fail to start on uvloop 0.22 and later: "There is no current event loop"). ``wrk`` is Debian's
package. Run with ``make benchmarks`` or ``pytest tests/benchmarks/test_bench_serving.py -s -o addopts=""``
(with ``--basetemp`` of its own where other pytest runs share the machine: they rotate /tmp/pytest-of-*).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from inference.serve import serve, tail, wait_ready
from tests.serving_world import FEATURE_NAMES, build_world

ACCOUNTS = 20_000
RATES = (100, 250, 500, 1000)
SECONDS = 10
WRK_SECONDS = 10
WRK_CONNECTIONS = 16
SERVER_CORE, GENERATOR_CORE = 1, 0
MLSERVER = os.environ.get("MLSERVER", "/tmp/mlserver-venv/bin/mlserver")
LOADGEN = Path(__file__).with_name("loadgen.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    started = time.perf_counter()
    built = build_world(
        tmp_path_factory.mktemp("bench-world"),
        n_accounts=ACCOUNTS,
        booster_rounds=500,
        booster_leaves=15,
        top_k=20,
        max_candidates=1000,
    )
    print(f"\nworld of {ACCOUNTS} accounts built in {time.perf_counter() - started:.0f} s")
    return built


def feed_bodies(n: int = 500) -> list[dict]:
    """Feed requests of `n` viewers: a third with a risk cap, each excluding two accounts it follows."""
    return [
        {"viewer_id": f"viewer-{i}", "top_k": 20, "exclude_account_ids": [f"acc-{i:04d}", f"acc-{i + 1:04d}"]}
        | ({"max_risk": 0.35} if i % 3 == 0 else {})
        for i in range(n)
    ]


def run_loadgen(url: str, bodies_file: Path, rate: float) -> dict:
    command = ["taskset", "-c", str(GENERATOR_CORE), sys.executable, str(LOADGEN), url, str(bodies_file)]
    command += ["--rate", str(rate), "--seconds", str(SECONDS)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_feed_and_predictor_beside_mlserver(world, tmp_path):
    if shutil.which("taskset") is None or shutil.which("wrk") is None:
        pytest.skip("taskset (util-linux) and wrk (apt-get install wrk) are needed")
    bodies_file = tmp_path / "feed.json"
    bodies_file.write_text(json.dumps(feed_bodies()))
    feed_rows = []
    with serve(
        world.settings.model_copy(update={"serving_poll_seconds": 10.0}),
        transformer_port=free_port(),
        predictor_port=free_port(),
        log_dir=tmp_path / "logs",
        cpus={"transformer": [SERVER_CORE], "predictor": [SERVER_CORE]},
    ) as servers:
        url = f"{servers.url}/v1/models/{world.settings.model_name}:predict"
        candidates = httpx.post(url, json={}).json()["candidates"]
        for rate in RATES:
            feed_rows.append(run_loadgen(url, bodies_file, rate))
    print_feed(feed_rows, candidates)

    booster_file = tmp_path / "model.bst"
    world.booster.save_model(str(booster_file))
    batches = {1: write_wrk_script(tmp_path, world, 1), 1000: write_wrk_script(tmp_path, world, 1000)}
    results = {"skillrank (KServe)": peak(lambda: skillrank_predictor(world, tmp_path), batches)}
    if Path(MLSERVER).exists():
        for workers in (0, 1):
            try:
                results[f"MLServer parallel_workers={workers}"] = peak(
                    lambda w=workers: mlserver(booster_file, tmp_path, w), batches
                )
            except RuntimeError as e:  # a configuration that does not start is not a contender
                print(f"MLServer parallel_workers={workers} did not start: {str(e).splitlines()[0]}")
    else:
        print(f"MLServer is not installed at {MLSERVER}: the side-by-side is skipped (see the module doc)")
    print_predictors(results)
    assert all(row["ok"] == row["sent"] for row in feed_rows[:3]), "feed requests failed at <= 500 req/s"


def write_wrk_script(tmp_path: Path, world, batch: int) -> Path:
    rows = world.latest[FEATURE_NAMES].to_numpy()[:batch]
    body = {
        "inputs": [
            {"name": "features", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
        ]
    }
    (tmp_path / f"body{batch}.json").write_text(json.dumps(body))
    script = tmp_path / f"post{batch}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{tmp_path / f"body{batch}.json"}", "r"); wrk.body = f:read("*a"); f:close()\n'
    )
    return script


def peak(start_server, batches: dict[int, Path]) -> dict[int, dict]:
    """Requests/s and P99 of wrk against one server, per batch size (the server stopped after)."""
    process, url, log = start_server()
    try:
        results = {}
        for batch, script in batches.items():
            wrk = ["taskset", "-c", str(GENERATOR_CORE), "wrk", "-t1", f"-c{WRK_CONNECTIONS}"]
            wrk += [f"-d{WRK_SECONDS}s", "--latency", "-s", str(script), url]
            subprocess.run([*wrk[:4], "-d2s", *wrk[5:]], capture_output=True, check=True)  # warm-up
            out = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
            results[batch] = parse_wrk(out)
            print(f"  measured batch {batch}: {results[batch]}")
        return results
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server started in its own session, then kill what is left of its process group.

    MLServer's parallel workers ignore SIGTERM and outlive their parent: the group kill ends them.
    """
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def parse_wrk(out: str) -> dict:
    """Requests/s, P50/P99 (ms) and non-2xx responses of a ``wrk --latency`` report."""
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * units[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def skillrank_predictor(world, tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLRANK_")}
    env["SKILLRANK_DATA_ROOT"] = str(world.settings.data_root)
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "inference.predictor"]
    command += ["--model_name", "skillrank", "--http_port", str(port), "--bind_host", "127.0.0.1"]
    command += ["--enable_grpc", "false", "--poll_seconds", "0"]
    log = tmp_path / "bench-predictor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_ready("predictor", f"http://127.0.0.1:{port}/v2/models/skillrank/ready", process, log)
    return process, f"http://127.0.0.1:{port}/v2/models/skillrank/infer", log


def mlserver(booster_file: Path, tmp_path: Path, parallel_workers: int):
    root = tmp_path / f"mlserver-{parallel_workers}"
    (root / "skillrank").mkdir(parents=True, exist_ok=True)
    shutil.copy(booster_file, root / "skillrank" / "model.bst")
    model = {"name": "skillrank", "implementation": "mlserver_lightgbm.LightGBMModel"}
    (root / "skillrank" / "model-settings.json").write_text(
        json.dumps(model | {"parameters": {"uri": "./model.bst"}})
    )
    port = free_port()
    server = {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "host": "127.0.0.1"}
    server |= {"parallel_workers": parallel_workers, "debug": False}
    (root / "settings.json").write_text(json.dumps(server))
    log = tmp_path / f"mlserver-{parallel_workers}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CORE), MLSERVER, "start", str(root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: `stop` reaches its parallel workers
        )
    try:
        wait_ready("MLServer", f"http://127.0.0.1:{port}/v2/models/skillrank/ready", process, log)
    except RuntimeError:
        stop(process)
        print(tail(log))
        raise
    return process, f"http://127.0.0.1:{port}/v2/models/skillrank/infer", log


def print_feed(rows: list[dict], candidates: int) -> None:
    print(
        f"\nfeed, {candidates} candidates per request, open loop {SECONDS} s per rate, "
        f"servers on core {SERVER_CORE}, generator on core {GENERATOR_CORE}"
    )
    print(
        f"{'req/s':>6} {'sent':>6} {'ok':>6} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8} {'max ms':>8}  errors"
    )
    for r in rows:
        print(
            f"{r['rate']:>6.0f} {r['sent']:>6} {r['ok']:>6} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['max_ms']:>8.1f}  {r['errors'] or 0}"
        )


def print_predictors(results: dict[str, dict[int, dict]]) -> None:
    print(
        f"\npredictor, v2 JSON, wrk -c{WRK_CONNECTIONS} for {WRK_SECONDS} s on core {GENERATOR_CORE}, "
        f"one server at a time on core {SERVER_CORE}"
    )
    print(f"{'server':<32} {'batch':>5} {'req/s':>8} {'P50 ms':>8} {'P99 ms':>8} {'non-2xx':>7}")
    for name, by_batch in results.items():
        for batch, r in by_batch.items():
            print(
                f"{name:<32} {batch:>5} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                f"{r['errors']:>7}"
            )
    ours = results["skillrank (KServe)"]
    others = {name: r for name, r in results.items() if name.startswith("MLServer")}
    for batch in ours:
        if others:
            best_name, best = max(others.items(), key=lambda item: item[1][batch]["rps"])
            throughput = ours[batch]["rps"] / best[batch]["rps"]
            p99 = best[batch]["p99_ms"] / ours[batch]["p99_ms"]
            print(
                f"batch {batch}: throughput {throughput:.2f} x MLServer's best ({best_name}), "
                f"P99 {p99:.2f} x lower"
            )
