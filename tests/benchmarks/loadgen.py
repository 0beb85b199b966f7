"""An open-loop HTTP load generator with coordinated omission corrected (wrk2's method, in asyncio).

A closed loop (send, wait, send again) slows down with the server and hides its stalls: the requests it
did not send while waiting are never measured ("coordinated omission"). Here request i is due at
``start + i / rate`` whatever happened before, and its latency runs from that due time, not from when
it could be sent, so a stall counts for every request it delayed. Debian's ``wrk`` is the closed-loop
wrk (no ``-R``); wrk2 is not packaged; so the fixed-rate runs use this generator, on aiohttp and uvloop
(one core sustains a few thousand requests a second), and ``wrk`` measures peak throughput.

Run it as a process of its own, pinned to its own core::

    python tests/benchmarks/loadgen.py URL BODY_FILE --rate 500 --seconds 10 [--v2]

It prints one JSON line: rate, sent, ok, errors by status, and P50/P95/P99/max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time

import aiohttp
import numpy as np

TIMEOUT_SECONDS = 5.0
CONNECTIONS = 256


async def open_loop(
    url: str, bodies: list[bytes], rate: float, seconds: float, headers: dict[str, str], connections: int
) -> dict:
    """Send ``rate × seconds`` requests (cycling through `bodies`) at fixed times, timed from their due times.

    Times are `time.perf_counter` (uvloop's clock counts whole milliseconds).
    """
    n = int(rate * seconds)
    latencies = np.full(n, np.nan)
    statuses: collections.Counter = collections.Counter()
    clock = time.perf_counter
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int, due: float) -> None:
            try:
                async with session.post(url, data=bodies[i % len(bodies)], headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
            except (aiohttp.ClientError, TimeoutError) as e:
                statuses[type(e).__name__] += 1
            latencies[i] = clock() - due

        start = clock() + 0.05
        tasks, i = [], 0
        while i < n:
            now = clock()
            while i < n and start + i / rate <= now:
                tasks.append(asyncio.ensure_future(one(i, start + i / rate)))
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, min(start + i / rate - clock(), 0.002)))
        await asyncio.gather(*tasks)
    ok = statuses.get(200, 0)
    done = latencies[~np.isnan(latencies)] * 1000
    return {
        "rate": rate,
        "sent": n,
        "ok": ok,
        "errors": {str(k): v for k, v in statuses.items() if k != 200},
        "p50_ms": float(np.percentile(done, 50)),
        "p95_ms": float(np.percentile(done, 95)),
        "p99_ms": float(np.percentile(done, 99)),
        "max_ms": float(done.max()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("bodies", help="a JSON file: a list of request bodies, sent in turn")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long (requests = rate x seconds)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="most connections open at once")
    args = parser.parse_args(argv)
    with open(args.bodies) as f:
        bodies = [json.dumps(body).encode() for body in json.load(f)]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.perf_counter()
    result = asyncio.run(
        open_loop(
            args.url, bodies, args.rate, args.seconds, {"content-type": "application/json"}, args.connections
        )
    )
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
