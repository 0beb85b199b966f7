"""Query the served feed over HTTP, as the app does, and format it for a terminal."""

from __future__ import annotations

import socket
from contextlib import nullcontext

import httpx

from components.config.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_feed(url: str, model_name: str, top_k: int, viewer_id: str | None = None) -> dict:
    """POST to the transformer's v1 predict endpoint; raise with the server's message on an error."""
    body = {"top_k": top_k} | ({"viewer_id": viewer_id} if viewer_id else {})
    response = httpx.post(f"{url}/v1/models/{model_name}:predict", json=body, timeout=60)
    if response.status_code != 200:
        raise RuntimeError(f"feed request failed with HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def fetch_feed(settings: Settings, top_k: int, url: str | None = None, viewer_id: str | None = None) -> dict:
    """The feed from `url`, or from local servers started (and stopped) for this one query."""
    from inference.serve import serve

    ports = (free_port(), free_port())
    servers = nullcontext() if url else serve(settings, transformer_port=ports[0], predictor_port=ports[1])
    with servers:
        return post_feed(url or f"http://127.0.0.1:{ports[0]}", settings.model_name, top_k, viewer_id)


def format_feed(feed: dict) -> str:
    """A fixed-width table of the feed with its reasons."""
    lines = [
        f"Discover feed — model {feed.get('model_name')} v{feed.get('model_version')}, "
        f"as of {feed.get('as_of_date')}, {feed.get('candidates')} candidates, arm {feed.get('arm')}"
        + (" (degraded: cached scores)" if feed.get("degraded") else ""),
        f"{'rank':>4}  {'account':<14} {'score':>8} {'conf':>5}  {'status':<11} reasons",
    ]
    for investor in feed.get("investors", []):
        lines.append(
            f"{investor['rank']:>4}  {investor['account_id']:<14} {investor['score']:>8.4f} "
            f"{investor['confidence']:>5.2f}  {investor['status']:<11} "
            + "; ".join(investor.get("reasons", []))
        )
    return "\n".join(lines)
