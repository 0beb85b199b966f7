"""Run the feed on one machine: the predictor and the transformer as two local KServe servers on loopback.

Example:
    >>> with serve(Settings(data_root="/data"), transformer_port=8080) as servers:  # doctest: +SKIP
    ...     httpx.post(f"{servers.url}/v1/models/skillrank:predict", json={"top_k": 10})
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from components.config.settings import Settings

READY_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 15
ENV_PREFIX = "SKILLRANK_"


class Servers:
    """Handle of the two running servers; `stop` (or leaving the ``with`` block) terminates both.

    Attributes:
        url: Base URL of the transformer, where clients POST ``/v1/models/<name>:predict``.
        predictor_url: Base URL of the predictor.
        logs: Log file of each server, by role.
    """

    def __init__(
        self, url: str, predictor_url: str, processes: dict[str, subprocess.Popen], logs: dict[str, Path]
    ):
        self.url = url
        self.predictor_url = predictor_url
        self.processes = processes
        self.logs = logs

    def stop(self) -> None:
        """Terminate both servers and wait for them (killing one that does not stop in time)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve(
    settings: Settings,
    transformer_port: int = 8080,
    predictor_port: int = 8085,
    host: str = "127.0.0.1",
    log_dir: Path | None = None,
) -> Servers:
    """Start the predictor and the transformer and wait until both report their model ready.

    Args:
        settings: Passed to both servers as ``SKILLRANK_*`` environment variables (replacing any inherited).
        transformer_port: HTTP port of the transformer (the feed endpoint).
        predictor_port: HTTP port of the predictor.
        host: Listen address of both servers (loopback by default).
        log_dir: Where the servers' logs go (default: a new temporary directory).

    Returns:
        The handle of the running servers.

    Raises:
        RuntimeError: A server exited or was not ready in time; the message ends with its log.
    """
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="skillrank-serve-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    common = ["--model_name", settings.model_name, "--bind_host", host, "--enable_grpc", "false"]
    commands = {
        "predictor": ["inference.predictor", "--http_port", str(predictor_port)],
        "transformer": [
            "inference.transformer",
            "--http_port",
            str(transformer_port),
            "--predictor_host",
            f"{host}:{predictor_port}",
        ],
    }
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env = {**inherited, **settings_env(settings)}
    processes, logs = {}, {}
    for role, command in commands.items():
        logs[role] = log_dir / f"{role}.log"
        with logs[role].open("wb") as log:
            processes[role] = subprocess.Popen(
                [sys.executable, "-m", *command, *common], env=env, stdout=log, stderr=subprocess.STDOUT
            )
    servers = Servers(f"http://{host}:{transformer_port}", f"http://{host}:{predictor_port}", processes, logs)
    try:
        for role, url in (("predictor", servers.predictor_url), ("transformer", servers.url)):
            wait_ready(role, f"{url}/v1/models/{settings.model_name}", processes[role], logs[role])
    except BaseException:
        servers.stop()
        raise
    return servers


def settings_env(settings: Settings) -> dict[str, str]:
    """`settings` as the ``SKILLRANK_*`` environment variables that rebuild it in a child process."""
    values = settings.model_dump(exclude_none=True)
    values["data_root"] = settings.data_root.resolve()
    return {f"{ENV_PREFIX}{key.upper()}": str(value) for key, value in values.items()}


def wait_ready(
    role: str, url: str, process: subprocess.Popen, log: Path, timeout: float = READY_TIMEOUT_SECONDS
) -> None:
    """Poll a model's readiness URL until it answers 200; raise if the process exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the {role} exited with code {process.returncode}; its log ends with:\n{tail(log)}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"the {role} was not ready at {url} after {timeout:g} s; its log ends with:\n{tail(log)}"
    )


def tail(log: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
