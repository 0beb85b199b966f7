"""What the two model servers share: a `kserve.ModelServer` on KServe's own REST server, made fit for traffic.

KServe 0.21's server is kept (its data plane, `kserve.Model` lifecycle, ``--workers``, the Prometheus
``/metrics`` it already exposes, its error handlers), with what it lacks at traffic:

- ``--bind_host``: KServe's REST server always listens on 0.0.0.0, which a pod needs; on a laptop the
  servers listen on loopback only, with one worker or several.
- Quiet request logs: KServe logs two INFO lines per request (its timing middleware and the latency
  line) and uvicorn a third; at a few hundred requests a second that is a fifth of a core. Here they are
  DEBUG only (``--log_level DEBUG`` brings them back), and KServe's latency histograms stay.
- A v2 route that reads every body strictly (`inference.v2`): a malformed tensor is a 400, never a 500,
  and a JSON body without a ``Content-Type`` (``tritonclient``) is JSON. ``versions/<v>/infer`` answers
  for the version served and is a 404 for any other.
- Deadlines and load shedding: an inference request still running past ``deadline_seconds`` (or arriving
  while ``max_in_flight`` are running) is a 503 with ``Retry-After``; its coroutine is cancelled.
- The model repository endpoints: ``load`` really reloads (`ServingRepository` calls the model's
  ``reload``), ``unload`` is refused with a 403 (it would take the model away until a restart).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus

import kserve
import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import ORJSONResponse
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.errors import ModelNotFound, ModelNotReady
from kserve.model_repository import ModelRepository
from kserve.predictor_config import PredictorConfig
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess
from kserve.protocol.rest.server import RESTServer
from uvicorn.importer import import_from_string

from inference.v2 import decode_request, encode_response

ALL_INTERFACES = "0.0.0.0"
DEADLINE_HEADER = "x-skillrank-deadline"  # monotonic time by which the request must be answered
RETRY_AFTER_SECONDS = 1
INFERENCE_SUFFIXES = (":predict", "/infer")
REQUEST_LOGGERS = ("uvicorn.access", "kserve.trace")

logger = logging.getLogger(__name__)


class DeadlineExceeded(Exception):
    """The request cannot be answered within its deadline: HTTP 503 with ``Retry-After``."""


class NotServed(Exception):
    """A model version that this server does not serve: HTTP 404."""


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags both servers share to a parser built on ``kserve.model_server.parser``."""
    parser.add_argument(
        "--bind_host",
        default=ALL_INTERFACES,
        help="Address the HTTP server listens on (127.0.0.1 for loopback only).",
    )
    parser.add_argument(
        "--log_level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Log level; DEBUG also logs every request.",
    )
    parser.add_argument(
        "--wait_for_model",
        type=lambda value: value.lower() in ("1", "true", "yes"),
        default=False,
        help="When the model cannot load at start (a fresh install: no champion or retrieval index yet), "
        "serve not ready and try again every --poll_seconds instead of exiting",
    )
    # One latency line per request at INFO is KServe's default; the histograms on /metrics say the same.
    parser.set_defaults(enable_latency_logging=False)


def load_or_wait(model: kserve.Model, wait: bool, poll_seconds: float) -> bool:
    """Load `model`; if that fails and `wait`, leave it not ready for its own watch to load it later.

    A pod on a fresh install then sits not ready (its readiness probe asks the model) instead of
    crash-looping until the first training run has promoted a champion and written the index.

    Raises:
        ValueError: `wait` without a poll interval: nothing would ever load the model.
        Exception: The load failed and `wait` is false.
    """
    if wait and poll_seconds <= 0:
        raise ValueError("--wait_for_model needs --poll_seconds above 0 (the watch loads the model)")
    try:
        return model.load()
    except Exception as e:
        if not wait:
            raise
        model.ready = False
        logger.warning("%s is not ready, trying again every %g s: %s", model.name, poll_seconds, e)
        return False


@dataclass(frozen=True)
class TrafficOptions:
    """How a server meets traffic: its listen address, request deadline, in-flight cap and log level.

    Attributes:
        host: Listen address of the REST server.
        deadline_seconds: Longest an inference request may run before a 503 (None: no deadline).
        max_in_flight: Most inference requests running at once per worker before a 503 (None: no cap).
        log_level: The servers' log level.
    """

    host: str = ALL_INTERFACES
    deadline_seconds: float | None = None
    max_in_flight: int | None = None
    log_level: str = "INFO"


class ServingRepository(ModelRepository):
    """KServe's model repository whose ``load`` really reloads: it awaits the model's ``reload()``."""

    async def load(self, name: str) -> bool:
        model = self.get_model(name)
        if model is None:
            raise ModelNotFound(name)
        reload = getattr(model, "reload", None)
        if reload is None:
            return model.ready
        result = reload()
        if inspect.isawaitable(result):
            await result
        return model.ready


class DeadlineMiddleware:
    """ASGI middleware: inference requests past their deadline, or beyond the in-flight cap, get a 503.

    The deadline runs from when the request reaches the application; the remaining time is also passed
    to the model in the `DEADLINE_HEADER` header, so it can give up between stages. A request that
    times out has its coroutine cancelled (its awaits end there); work must therefore not be handed to
    threads that would run on.
    """

    def __init__(self, app, deadline_seconds: float | None, max_in_flight: int | None):
        self.app = app
        self.deadline_seconds = deadline_seconds
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith(INFERENCE_SUFFIXES)
        ):
            return await self.app(scope, receive, send)
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return await unavailable(send, f"the server is at its limit of {self.max_in_flight} requests")
        if self.deadline_seconds is None:
            return await self.app(scope, receive, send)
        deadline = time.monotonic() + self.deadline_seconds
        scope["headers"] = [*scope["headers"], (DEADLINE_HEADER.encode(), repr(deadline).encode())]
        started = False

        async def send_started(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        self.in_flight += 1
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + self.deadline_seconds) as timer:
                await self.app(scope, receive, send_started)
        except TimeoutError:
            if not timer.expired():
                raise
            if not started:
                await unavailable(
                    send, f"the request took longer than its {self.deadline_seconds:g} s deadline"
                )
        finally:
            self.in_flight -= 1


async def unavailable(send, message: str) -> None:
    """Send a 503 with ``Retry-After`` and a JSON error."""
    body = orjson.dumps({"error": message})
    await send(
        {
            "type": "http.response.start",
            "status": HTTPStatus.SERVICE_UNAVAILABLE,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_deadline(headers: dict[str, str] | None, stage: str) -> None:
    """Raise `DeadlineExceeded` if the request's deadline (set by `DeadlineMiddleware`) has passed.

    Example:
        >>> check_deadline({DEADLINE_HEADER: "0.0"}, "preprocess")
        Traceback (most recent call last):
        ...
        inference.server.DeadlineExceeded: the request's deadline passed before preprocess
    """
    deadline = (headers or {}).get(DEADLINE_HEADER)
    if deadline is not None and time.monotonic() > float(deadline):
        raise DeadlineExceeded(f"the request's deadline passed before {stage}")


async def deadline_exceeded_handler(_, exc: DeadlineExceeded) -> Response:
    return ORJSONResponse(
        {"error": str(exc)},
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        headers={"retry-after": str(RETRY_AFTER_SECONDS)},
    )


async def not_ready_handler(_, exc: ModelNotReady) -> Response:
    """A 503 with ``Retry-After``, logged without a traceback: every readiness probe of a server that
    waits for its first model asks (KServe's own handler logs each as an error)."""
    return ORJSONResponse(
        {"error": str(exc)},
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        headers={"retry-after": str(RETRY_AFTER_SECONDS)},
    )


async def not_served_handler(_, exc: NotServed) -> Response:
    return ORJSONResponse({"error": str(exc)}, status_code=HTTPStatus.NOT_FOUND)


def add_v2_routes(app: FastAPI, dataplane: DataPlane) -> None:
    """The strict v2 infer routes and the refused ``unload``, ahead of KServe's own routes."""

    async def infer(request: Request, model_name: str, model_version: str | None = None) -> Response:
        if not await dataplane.model_ready(model_name, True):
            raise ModelNotReady(model_name)
        if model_version is not None:
            served = getattr(dataplane.get_model_from_registry(model_name), "served_version", None)
            if model_version != served:
                raise NotServed(
                    f"model {model_name} version {model_version} is not served; version {served} is"
                )
        headers = dict(request.headers)
        infer_request = decode_request(await request.body(), headers, model_name)
        response, response_headers = await dataplane.infer(model_name, infer_request, headers)
        content, encoding = encode_response(response)
        return Response(content, headers={**response_headers, **encoding})

    async def unload(model_name: str) -> Response:
        return ORJSONResponse(
            {
                "error": f"unloading {model_name} is disabled: it would stop serving until a restart. "
                f"POST /v2/repository/models/{model_name}/load reloads it."
            },
            status_code=HTTPStatus.FORBIDDEN,
        )

    for path in ("/v2/models/{model_name}/infer", "/v2/models/{model_name}/versions/{model_version}/infer"):
        app.router.add_api_route(path, infer, methods=["POST"], include_in_schema=False)
    app.router.add_api_route("/v2/repository/models/{model_name}/unload", unload, methods=["POST"])


class ServingRESTServer(RESTServer):
    """KServe's REST server on ``host``, with quiet request logs, strict v2 routes and deadlines.

    Built in the parent process and, with several workers, pickled into each worker, where
    `create_application` runs again: everything it adds is therefore added in every worker.
    """

    def __init__(self, *args, traffic: TrafficOptions, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.host = traffic.host
        self.traffic = traffic

    def create_application(self):
        app = import_from_string(FASTAPI_APP_IMPORT_STRING)
        quiet_request_logs(self.traffic.log_level)
        app.add_middleware(
            DeadlineMiddleware,
            deadline_seconds=self.traffic.deadline_seconds,
            max_in_flight=self.traffic.max_in_flight,
        )
        add_v2_routes(app, self.dataplane)
        self._register_endpoints(app)
        self._add_exception_handlers(app)
        app.add_exception_handler(DeadlineExceeded, deadline_exceeded_handler)
        app.add_exception_handler(NotServed, not_served_handler)
        app.add_exception_handler(ModelNotReady, not_ready_handler)


class ServingMultiProcess(RESTServerMultiProcess):
    """KServe's multi-worker REST server, running a `ServingRESTServer` in each worker."""

    def __init__(self, rest_server: ServingRESTServer, log_config_file: str | None = None):
        self.log_config_file = log_config_file
        self._rest_server = rest_server
        self._processes = []
        self.should_exit = asyncio.Event()


def quiet_request_logs(level: str) -> None:
    """Per-request log lines (uvicorn's access log, KServe's latency trace) at DEBUG only."""
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


class ServingModelServer(kserve.ModelServer):
    """A `kserve.ModelServer` on a `ServingRESTServer`, with one worker or ``workers``.

    Args:
        traffic: Listen address, deadline, in-flight cap and log level.
        **kwargs: Passed to `kserve.ModelServer`.
    """

    def __init__(self, *, traffic: TrafficOptions = TrafficOptions(), **kwargs):  # noqa: B008 (frozen)
        super().__init__(registered_models=ServingRepository(), **kwargs)
        self.traffic = traffic

    def start(self, models: list[kserve.Model]) -> None:
        """Register `models` and serve them until a signal stops the server (KServe's own sequence).

        Unlike KServe's, a model not ready yet is registered too (`load_or_wait`): it answers 503 on
        its readiness and inference routes until its watch has loaded it.
        """
        for model in models:
            self.register_model(model)
            model.enable_latency_logging = self.enable_latency_logging
            loaded = model.ready
            model.start()
            model.ready = loaded  # `kserve.Model.start` marks a model ready, loaded or not
        rest = ServingRESTServer(
            FASTAPI_APP_IMPORT_STRING,
            self.dataplane,
            self.model_repository_extension,
            self.http_port,
            access_log_format=self.access_log_format,
            workers=self.workers,
            grace_period=self.grace_period,
            event_loop=self.event_loop,
            timeout_keep_alive=self.timeout_keep_alive,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
            traffic=self.traffic,
        )
        if self.workers > 1:
            self._rest_multiprocess_server = ServingMultiProcess(rest)
            self.servers.append(self._rest_multiprocess_server.start())
        else:
            self._rest_server = rest
            self.servers.append(rest.start())
        if self.enable_grpc:
            self._grpc_server = GRPCServer(
                self.grpc_port, self.dataplane, self.model_repository_extension, kwargs={}
            )
            self.servers.append(self._grpc_server.start(self.max_threads))
        self.setup_event_loop()
        self.register_signal_handler()
        asyncio.run(self._serve())


def model_server(
    args: argparse.Namespace,
    predictor_config: PredictorConfig | None = None,
    deadline_seconds: float | None = None,
    max_in_flight: int | None = None,
) -> ServingModelServer:
    """A model server configured from the parsed flags of KServe's parser and `add_server_flags`."""
    return ServingModelServer(
        traffic=TrafficOptions(args.bind_host, deadline_seconds, max_in_flight, args.log_level),
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        max_threads=args.max_threads,
        max_asyncio_workers=args.max_asyncio_workers,
        enable_grpc=args.enable_grpc,
        enable_docs_url=args.enable_docs_url,
        enable_latency_logging=args.enable_latency_logging,
        access_log_format=args.access_log_format,
        event_loop=args.event_loop,
        timeout_keep_alive=args.timeout_keep_alive,
        predictor_config=predictor_config,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
