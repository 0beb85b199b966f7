"""The training lock: one holder at a time, released when the holder's block or process ends."""

from __future__ import annotations

import subprocess
import sys
import time

from components.release.lock import read_holder, training_lock


def test_a_second_taker_is_refused_and_told_who_holds_it(tmp_path):
    path = tmp_path / "training.lock"
    with training_lock(path, "decision-a") as first, training_lock(path, "decision-b") as second:
        assert first.acquired and not second.acquired
        assert second.holder["purpose"] == "decision-a"
    with training_lock(path, "decision-b") as third:  # released when the block ended
        assert third.acquired and third.holder["purpose"] == "decision-b"
    assert read_holder(path) == {}  # the note goes with the lock


def test_a_holder_that_dies_leaves_no_stale_lock(tmp_path):
    path = tmp_path / "training.lock"
    script = (
        "import sys, time; from pathlib import Path; from components.release.lock import training_lock\n"
        "with training_lock(Path(sys.argv[1]), 'killed'):\n    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with training_lock(path, "meanwhile") as meanwhile:
        assert not meanwhile.acquired and meanwhile.holder["pid"] == holder.pid
    holder.kill()
    holder.wait()
    time.sleep(0.05)
    with training_lock(path, "after") as after:
        assert after.acquired
