"""Redis for the feed: a client from the settings' connection string, and the score cache.

The score cache keeps the last snapshot the transformer built (`inference.snapshot.FeedSnapshot`, as
Arrow IPC) under one key per model name, so that a transformer that starts while the predictor or the
online store is down serves the last good feed, marked degraded, instead of nothing.
"""

from __future__ import annotations

import logging

import redis

from inference import metrics
from inference.snapshot import FeedSnapshot

logger = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 1.0


def redis_client(connection_string: str) -> redis.Redis:
    """A client of Feast's Redis connection string, ``host:port[,db=N][,password=..][,ssl=true]``.

    Example:
        >>> redis_client("127.0.0.1:6379,db=3").connection_pool.connection_kwargs["db"]
        3
    """
    address, *options = [part.strip() for part in connection_string.split(",") if part.strip()]
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "6379")
    settings = dict(option.split("=", 1) for option in options if "=" in option)
    return redis.Redis(
        host=host or "127.0.0.1",
        port=int(port or 6379),
        db=int(settings.get("db", 0)),
        password=settings.get("password"),
        ssl=settings.get("ssl", "false").lower() == "true",
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
    )


class ScoreCache:
    """The last feed snapshot of a model, in Redis.

    Args:
        client: A Redis client.
        model_name: Whose snapshot (one key per model name).
    """

    def __init__(self, client: redis.Redis, model_name: str):
        self.client = client
        self.key = f"skillrank:feed:{model_name}:snapshot"

    def save(self, snapshot: FeedSnapshot) -> bool:
        """Store `snapshot`; False (logged) when Redis cannot be reached."""
        try:
            self.client.set(self.key, snapshot.to_ipc())
        except redis.RedisError as e:
            metrics.SCORE_CACHE.labels("save", "failed").inc()
            logger.warning("cannot save the feed snapshot to Redis (%s): %s", self.key, e)
            return False
        metrics.SCORE_CACHE.labels("save", "saved").inc()
        return True

    def load(self) -> FeedSnapshot | None:
        """The cached snapshot (marked degraded), or None when there is none or Redis cannot be reached."""
        try:
            data = self.client.get(self.key)
        except redis.RedisError as e:
            metrics.SCORE_CACHE.labels("load", "failed").inc()
            logger.warning("cannot read the feed snapshot from Redis (%s): %s", self.key, e)
            return None
        metrics.SCORE_CACHE.labels("load", "hit" if data else "miss").inc()
        return None if data is None else FeedSnapshot.from_ipc(data)
