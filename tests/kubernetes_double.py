"""The HTTP part of a double of the Kubernetes API: a JSON server on loopback for the real client.

No API server runs here, so tests of code that talks to one (the roll-out, the Spark Operator step) serve
a double on 127.0.0.1 and point the real `kubernetes.client.CustomObjectsApi` at it: the paths, verbs,
bodies and content types are then the ones a cluster receives. A double says what the server would answer
(`KubernetesApiDouble.answer`); this module does the serving, the replies and the Status bodies.
"""

from __future__ import annotations

import json
import threading
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubernetes.client

METHODS = ("GET", "POST", "PATCH", "DELETE")


def status(code: int, reason: str, message: str) -> dict:
    """A ``Status`` body, as the API server sends with a 4xx."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip


class KubernetesApiDouble:
    """Serves `answer` over HTTP on loopback while used as a context manager."""

    def __init__(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def handle_method(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                code, answer = double.answer(method, self.path, body, self.headers)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        for method in METHODS:
            setattr(Handler, f"do_{method}", lambda handler, method=method: handler.handle_method(method))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, body: dict | None, headers: HTTPMessage) -> tuple[int, dict]:
        """The status code and JSON body the API server would send."""
        raise NotImplementedError

    def client(self) -> kubernetes.client.CustomObjectsApi:
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(configuration))

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
