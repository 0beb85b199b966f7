"""One voice for every command and step: logging configured once, progress bars where a person waits.

Modules log through ``logging.getLogger(__name__)`` and never configure logging themselves; the
entry point (the CLI, a KFP step's body, a server's ``main``) calls `configure_logging` once. Long
loops wrap their iterable in `progress`, a tqdm bar on stderr that shows counts and rate, and stays
quiet where no one watches (``SKILLRANK_PROGRESS=0`` or a non-terminal stderr outside a pipeline step).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PROGRESS_ENV = "SKILLRANK_PROGRESS"


def configure_logging(level: int | str = logging.INFO) -> None:
    """Configure the root logger once for this process (later calls only change the level)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    root.setLevel(level)
    # Third-party libraries that log every request at INFO would drown the steps' own lines.
    for noisy in ("py4j", "urllib3", "httpx", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress_enabled() -> bool:
    """Whether bars are drawn: ``SKILLRANK_PROGRESS`` (1/0) decides, else whether stderr is a terminal."""
    setting = os.environ.get(PROGRESS_ENV)
    if setting is not None:
        return setting.strip().lower() not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate `iterable` behind a progress bar labelled `desc` (a plain pass-through when disabled).

    Example:
        >>> list(progress(range(3), "counting", unit="number"))
        [0, 1, 2]
    """
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            disable=not progress_enabled(),
            file=sys.stderr,
            dynamic_ncols=True,
        )
    )
