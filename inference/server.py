"""What the two model servers share: the ``--bind_host`` flag and a `kserve.ModelServer` that honours it.

KServe's REST server always listens on 0.0.0.0, which a pod needs; on a laptop the servers should
listen on loopback only, so `skillrank serve` passes ``--bind_host 127.0.0.1``.
"""

from __future__ import annotations

import argparse

import kserve
from kserve.predictor_config import PredictorConfig

ALL_INTERFACES = "0.0.0.0"


def add_bind_host(parser: argparse.ArgumentParser) -> None:
    """Add ``--bind_host`` to a server's parser."""
    parser.add_argument(
        "--bind_host",
        default=ALL_INTERFACES,
        help="Address the HTTP server listens on (127.0.0.1 for loopback only; one worker only).",
    )


class BoundModelServer(kserve.ModelServer):
    """A `kserve.ModelServer` whose single-worker REST server listens on ``host``.

    Args:
        host: Listen address of the REST server.
        **kwargs: Passed to `kserve.ModelServer`.
    """

    def __init__(self, *, host: str = ALL_INTERFACES, **kwargs):
        super().__init__(**kwargs)
        self.host = host

    def setup_event_loop(self):
        # Called by start() after the REST server is built and before it binds its socket.
        if self.host != ALL_INTERFACES:
            if self._rest_server is None:
                raise ValueError(
                    f"--bind_host {self.host} needs a single worker (got --workers {self.workers})"
                )
            self._rest_server.config.host = self.host
        super().setup_event_loop()


def model_server(
    args: argparse.Namespace, predictor_config: PredictorConfig | None = None
) -> BoundModelServer:
    """A model server configured from the parsed flags of the shared KServe parser."""
    return BoundModelServer(
        host=args.bind_host,
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
