"""Redis: one deliberately sized, blocking connection pool per process."""

from __future__ import annotations

import redis
from flask import Flask, current_app

EXTENSION = "fanfare.redis"


def make_client(url: str, *, max_connections: int = 200) -> redis.Redis:
    """A client whose pool waits briefly for a free connection instead of failing at once."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)


def init_app(app: Flask) -> None:
    """Create the client; connections open on first use."""
    app.extensions[EXTENSION] = make_client(
        app.config["REDIS_URL"], max_connections=int(app.config["REDIS_POOL_MAX"])
    )


def client() -> redis.Redis:
    """The current app's Redis client."""
    return current_app.extensions[EXTENSION]
