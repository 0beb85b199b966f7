"""One training at a time on a data root: an exclusive lock on a file, released when its holder ends.

The lock is an OS-level `flock` on ``training.lock`` under the data root (`DataLayout.training_lock`), so
it is released by the kernel when the holding process exits, however it exits: a crashed retrain never
leaves a stale lock behind. The file also says who holds it (pid, what for, since when), for the
message of whoever finds it taken.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LockState:
    """Whether this process got the lock, and the holder's note (this process's when acquired)."""

    acquired: bool
    holder: dict


@contextmanager
def training_lock(path: Path, purpose: str) -> Iterator[LockState]:
    """Try to take the training lock at `path` without waiting.

    Args:
        path: The lock file (created if missing).
        purpose: What the holder trains for (e.g. a decision's id), written into the file.

    Yields:
        Whether the lock was taken; when it was not, who holds it.

    Example:
        >>> import tempfile
        >>> lock = Path(tempfile.mkdtemp()) / "training.lock"
        >>> with training_lock(lock, "first") as first, training_lock(lock, "second") as second:
        ...     first.acquired, second.acquired, second.holder["purpose"]
        (True, False, 'first')
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield LockState(False, read_holder(path))
            return
        try:
            note = {
                "pid": os.getpid(),
                "purpose": purpose,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(note))
            handle.flush()
            yield LockState(True, note)
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_holder(path: Path) -> dict:
    """The note of the lock's holder (empty when none is written)."""
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
