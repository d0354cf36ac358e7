"""Redis for the apps: one deliberately sized, blocking pool per process (built by connect.py)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

from fanfare.infra import connect
from fanfare.infra.gather import Gatherer

EXTENSION = "fanfare.redis"
GATHER_EXTENSION = "fanfare.gather"


def init_app(app: Flask) -> None:
    """Create the client; connections open on first use."""
    app.extensions[EXTENSION] = connect.redis_client(
        app.config, max_connections=int(app.config["REDIS_POOL_MAX"])
    )


def client() -> redis.Redis:
    """The current app's Redis client."""
    return current_app.extensions[EXTENSION]


def gatherer(app: Flask) -> Gatherer:
    """The process's one Gatherer over the app's Redis client, created on first use."""
    if GATHER_EXTENSION not in app.extensions:
        app.extensions[GATHER_EXTENSION] = Gatherer(
            app.extensions[EXTENSION],
            stats=app.extensions.setdefault("fanfare.metrics", {}),
            **connect.gather_options(app.config),
        )
    return app.extensions[GATHER_EXTENSION]
