"""Redis: one deliberately sized, blocking connection pool per process."""

from __future__ import annotations

import redis
from flask import Flask, current_app

from fanfare.infra.gather import Gatherer

EXTENSION = "fanfare.redis"
GATHER_EXTENSION = "fanfare.gather"


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


def gatherer(app: Flask) -> Gatherer:
    """The process's one Gatherer over the app's Redis client, created on first use."""
    if GATHER_EXTENSION not in app.extensions:
        app.extensions[GATHER_EXTENSION] = Gatherer(
            app.extensions[EXTENSION], stats=app.extensions.setdefault("fanfare.metrics", {})
        )
    return app.extensions[GATHER_EXTENSION]
