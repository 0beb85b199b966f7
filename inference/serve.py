"""Run the feed on one machine: the predictor and the transformer as two local KServe servers on loopback.

`serve` starts both (the predictor first) and waits until each reports its model ready; leaving the
``with`` block, `Servers.stop`, or a SIGTERM/SIGINT to `wait_until_stopped` stops both. Each server
also gets the signal its parent dies of (Linux ``PR_SET_PDEATHSIG``), so a killed ``skillrank serve``
leaves no server behind.

Example:
    >>> with serve(Settings(data_root="/data"), transformer_port=8080) as servers:  # doctest: +SKIP
    ...     httpx.post(f"{servers.url}/v1/models/skillrank:predict", json={"top_k": 10})
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from components.config.settings import Settings

READY_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 15
ENV_PREFIX = "SKILLRANK_"
PR_SET_PDEATHSIG = 1


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

    def exited(self) -> str | None:
        """The role of a server that has exited, if one has."""
        return next((role for role, process in self.processes.items() if process.poll() is not None), None)


def serve(
    settings: Settings,
    transformer_port: int = 8080,
    predictor_port: int = 8085,
    host: str = "127.0.0.1",
    log_dir: Path | None = None,
    workers: int = 1,
    cpus: dict[str, Iterable[int]] | None = None,
) -> Servers:
    """Start the predictor and the transformer and wait until both report their model ready.

    Args:
        settings: Passed to both servers as ``SKILLRANK_*`` environment variables (replacing any inherited).
        transformer_port: HTTP port of the transformer (the feed endpoint).
        predictor_port: HTTP port of the predictor.
        host: Listen address of both servers (loopback by default).
        log_dir: Where the servers' logs go (default: a new temporary directory).
        workers: Worker processes per server (KServe's ``--workers``): more where cores are free.
        cpus: The cores each role may run on, by role (``{"transformer": [1]}``; default: any).

    Returns:
        The handle of the running servers.

    Raises:
        RuntimeError: A server exited or was not ready in time; the message ends with its log.
    """
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="skillrank-serve-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    common = ["--model_name", settings.model_name, "--bind_host", host, "--enable_grpc", "false"]
    common += ["--workers", str(workers)]
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
    servers = Servers(f"http://{host}:{transformer_port}", f"http://{host}:{predictor_port}", processes, logs)
    urls = {"predictor": servers.predictor_url, "transformer": servers.url}
    try:
        # One after the other: the transformer's first feed is scored by the predictor, which must be up.
        for role, command in commands.items():
            logs[role] = log_dir / f"{role}.log"
            with logs[role].open("wb") as log:
                processes[role] = subprocess.Popen(
                    [sys.executable, "-m", *command, *common],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_child_setup((cpus or {}).get(role)),
                )
            wait_ready(role, f"{urls[role]}/v1/models/{settings.model_name}", processes[role], logs[role])
    except BaseException:
        servers.stop()
        raise
    return servers


def wait_until_stopped(servers: Servers, poll_seconds: float = 0.5) -> None:
    """Block until SIGTERM or SIGINT (then return, for the caller to stop the servers) or a server exits.

    Raises:
        RuntimeError: A server exited on its own; the message ends with its log.
    """
    stopped = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopped.wait(poll_seconds):
            role = servers.exited()
            if role is not None:
                code = servers.processes[role].returncode
                raise RuntimeError(
                    f"the {role} exited with code {code}; its log ends with:\n{tail(servers.logs[role])}"
                )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _child_setup(cpus: Iterable[int] | None):
    """What a server process does before it starts: die with its parent, run on `cpus` if given."""
    cores = None if cpus is None else set(cpus)

    def setup() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if cores:
            os.sched_setaffinity(0, cores)

    return setup


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
