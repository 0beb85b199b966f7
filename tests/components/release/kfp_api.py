"""A double of the Kubeflow Pipelines v2beta1 REST API, for the tests of `kfp.Client` calls.

No Kubeflow backend runs here, so its responses were not recorded from a live server: the bodies in
``kfp_api_responses.json`` (beside this file) are transcribed field by field from the v2beta1 API's
reference (the swagger of ``backend/api/v2beta1`` that generates ``kfp-server-api`` 2.17, whose models
read them), quirks included: a list of recurring runs is ``recurringRuns``, in camel case, and an empty
list is ``{}``, without the key. The double keeps what was created in memory, answers the calls
skillrank makes (healthz, pipelines and their upload, versions, experiments, runs, recurring runs;
``EQUALS`` filters on ``display_name``; ``created_at desc`` order) and records every request, so that
a test can assert what the client sent.
"""

from __future__ import annotations

import copy
import email.parser
import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

RESPONSES = json.loads((Path(__file__).with_name("kfp_api_responses.json")).read_text())
API = "/apis/v2beta1"


@dataclass
class Request:
    """One request the double received."""

    method: str
    path: str
    query: dict[str, str]
    body: dict | None
    headers: dict[str, str]  # names in lower case


@dataclass
class KfpState:
    """What the double's API holds."""

    pipelines: list[dict] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    experiments: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    recurring_runs: list[dict] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    clock: itertools.count = field(default_factory=lambda: itertools.count(1))

    def stamp(self) -> str:
        """A created_at later than every earlier one (RFC 3339, as the API writes it)."""
        return f"2026-11-30T12:{next(self.clock):02d}:00Z"

    def new_id(self) -> str:
        return str(uuid.UUID(int=len(self.requests) * 7919 + next(self.clock)))


def template(kind: str, /, **values) -> dict:
    """The recorded response body of `kind` with `values` filled in."""
    body = copy.deepcopy(RESPONSES[kind])
    body.update(values)
    return body


def display_name_filter(query: dict[str, str]) -> str | None:
    """The value of an ``EQUALS`` filter on display_name, if the query has one."""
    if "filter" not in query:
        return None
    for predicate in json.loads(query["filter"]).get("predicates", []):
        if predicate.get("key") == "display_name" and predicate.get("operation") == "EQUALS":
            return predicate["stringValue"]
    return None


def listed(items: list[dict], query: dict[str, str], key: str) -> dict:
    """A list response: filtered, newest first when asked, one page; ``{}`` when empty."""
    name = display_name_filter(query)
    found = [item for item in items if name is None or item["display_name"] == name]
    if query.get("sort_by") == "created_at desc":
        found = sorted(found, key=lambda item: item["created_at"], reverse=True)
    found = found[: int(query.get("page_size", 10) or 10)]
    return {key: found, "total_size": len(found)} if found else {}


class KfpApiDouble:
    """The API on a loopback port: `url` for ``kfp.Client(host=...)``, `state` to inspect."""

    def __init__(self):
        self.state = KfpState()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> KfpApiDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests(self, method: str, path: str) -> list[Request]:
        """The requests received with `method` on `path` (below ``/apis/v2beta1``)."""
        return [r for r in self.state.requests if r.method == method and r.path == API + path]

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

            def _answer(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = self._body(raw)
                headers = {k.lower(): v for k, v in self.headers.items()}
                double.state.requests.append(Request(method, url.path, query, body, headers))
                status, answer = double.route(method, url.path.removeprefix(API), query, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self, raw: bytes) -> dict | None:
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("multipart/form-data"):
                    message = email.parser.BytesParser().parsebytes(
                        f"Content-Type: {kind}\r\n\r\n".encode() + raw
                    )
                    for part in message.get_payload():
                        if part.get_param("name", header="content-disposition") == "uploadfile":
                            return {"package": part.get_payload(decode=True).decode()}
                return json.loads(raw) if raw else None

        return Handler

    def route(self, method: str, path: str, query: dict[str, str], body: dict | None) -> tuple[int, dict]:
        """The status and body of the API's answer."""
        state = self.state
        parts = path.strip("/").split("/")
        if (method, path) == ("GET", "/healthz"):
            return 200, template("healthz")
        if (method, path) == ("GET", "/pipelines"):
            return 200, listed(state.pipelines, query, "pipelines")
        if (method, path) == ("POST", "/pipelines/upload"):
            return self.upload(query, body)
        if (method, path) == ("POST", "/pipelines/upload_version"):
            return self.upload_version(query["pipelineid"], query["name"], query.get("description"), body)
        if method == "GET" and len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
            versions = [v for v in state.versions if v["pipeline_id"] == parts[1]]
            return 200, listed(versions, query, "pipeline_versions")
        if (method, path) == ("GET", "/experiments"):
            return 200, listed(state.experiments, query, "experiments")
        if (method, path) == ("POST", "/experiments"):
            experiment = template(
                "experiment", experiment_id=state.new_id(), created_at=state.stamp(), **body
            )
            state.experiments.append(experiment)
            return 200, experiment
        if (method, path) == ("GET", "/runs"):
            experiment = query.get("experiment_id")
            runs = [r for r in state.runs if experiment in (None, r["experiment_id"])]
            return 200, listed(runs, query, "runs")
        if (method, path) == ("POST", "/runs"):
            run = template("run", run_id=state.new_id(), created_at=state.stamp(), **body)
            run["state_history"] = [{"update_time": run["created_at"], "state": run["state"]}]
            state.runs.append(run)
            return 200, run
        if (method, path) == ("GET", "/recurringruns"):
            return 200, listed(state.recurring_runs, query, "recurringRuns")
        if (method, path) == ("POST", "/recurringruns"):
            made = template(
                "recurring_run", recurring_run_id=state.new_id(), created_at=state.stamp(), **body
            )
            made["updated_at"] = made["created_at"]
            state.recurring_runs.append(made)
            return 200, made
        if method == "DELETE" and len(parts) == 2 and parts[0] == "recurringruns":
            state.recurring_runs = [r for r in state.recurring_runs if r["recurring_run_id"] != parts[1]]
            return 200, {}
        return 404, template("not_found", message=f"{method} {path} is not part of this double")

    def upload(self, query: dict[str, str], body: dict) -> tuple[int, dict]:
        """A new pipeline and its first version, named after the pipeline (as the API does)."""
        state, name = self.state, query["name"]
        if any(p["display_name"] == name for p in state.pipelines):
            return 409, template("already_exists", message=f"pipeline {name} already exists")
        pipeline = template(
            "pipeline",
            pipeline_id=state.new_id(),
            display_name=name,
            name=name,
            description=query.get("description", ""),
            created_at=state.stamp(),
        )
        state.pipelines.append(pipeline)
        self.upload_version(pipeline["pipeline_id"], name, query.get("description"), body)
        return 200, pipeline

    def upload_version(
        self, pipeline_id: str, name: str, description: str | None, body: dict
    ) -> tuple[int, dict]:
        state = self.state
        version = template(
            "pipeline_version",
            pipeline_id=pipeline_id,
            pipeline_version_id=state.new_id(),
            display_name=name,
            name=name,
            description=description or "",
            created_at=state.stamp(),
            pipeline_spec=next(yaml.safe_load_all(body["package"])),
        )
        state.versions.append(version)
        return 200, version
