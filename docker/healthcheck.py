"""Docker HEALTHCHECK of the project image (Kubernetes ignores it and uses the manifests' probes).

A container that serves (``python -m inference.<server>`` or ``skillrank serve``) is healthy while its
KServe server answers ``/v2/health/live``; any other command (a batch job) has no endpoint and is healthy
while it runs.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

DEFAULT_PORT = 8080  # the port the manifests and `skillrank serve` give the (first) server


def health_url(argv: list[str]) -> str | None:
    """The liveness URL of the server that `argv` starts, or None when it starts no server.

    Example:
        >>> health_url(["python", "-m", "inference.predictor", "--http_port", "8085"])
        'http://127.0.0.1:8085/v2/health/live'
        >>> health_url(["skillrank", "features"]) is None
        True
    """
    serves = any(arg.startswith("inference.") for arg in argv) or "serve" in argv
    if not serves:
        return None
    port = argv[argv.index("--http_port") + 1] if "--http_port" in argv[:-1] else DEFAULT_PORT
    return f"http://127.0.0.1:{port}/v2/health/live"


def main(cmdline: Path = Path("/proc/1/cmdline")) -> int:
    url = health_url([arg.decode() for arg in cmdline.read_bytes().split(b"\0") if arg])
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as reply:
            return 0 if reply.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
