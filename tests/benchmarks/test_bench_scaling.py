"""Simulator and ingest scale linearly in accounts: 10x the accounts should cost about 10x, not more.

Both sizes run side by side in one process, so the ratio is robust to a noisy machine.
"""

import time
from datetime import date

from components.config.layout import DataLayout
from components.contract.ingest import ingest
from components.simulator.world import simulate_world

SIZES = (2_000, 20_000)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def test_simulate_and_ingest_scale_linearly(tmp_path):
    rows = []
    for n in SIZES:
        world = tmp_path / f"world-{n}"
        sim_s, summary = timed(simulate_world, world, n, date(2019, 1, 1), date(2021, 12, 31), 7)
        ingest_s, _ = timed(ingest, world, DataLayout(tmp_path / f"out-{n}"))
        rows.append((n, summary["rows"]["snapshots"], summary["rows"]["trades"], sim_s, ingest_s))
    print(f"\n{'accounts':>9} {'snapshots':>10} {'trades':>9} {'simulate s':>11} {'ingest s':>9}")
    for n, snaps, trades, sim_s, ingest_s in rows:
        print(f"{n:>9} {snaps:>10} {trades:>9} {sim_s:>11.2f} {ingest_s:>9.2f}")
    sim_ratio, ingest_ratio = rows[1][3] / rows[0][3], rows[1][4] / rows[0][4]
    print(f"ratio at 10x accounts: simulate {sim_ratio:.1f}x, ingest {ingest_ratio:.1f}x")
    assert sim_ratio < 15 and ingest_ratio < 15, "worse than linear scaling"
