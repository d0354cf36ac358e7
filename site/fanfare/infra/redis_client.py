"""Redis for the apps: one deliberately sized, blocking pool per process (built by connect.py)."""

from __future__ import annotations

import redis
from flask import Flask, current_app, request

from fanfare.infra import connect
from fanfare.infra.gather import Gatherer
from fanfare.infra.redis_checks import ServerCheck

EXTENSION = "fanfare.redis"
GATHER_EXTENSION = "fanfare.gather"
CHECK_EXTENSION = "fanfare.redis_check"


def init_app(app: Flask) -> None:
    """Create the client; connections open on first use."""
    app.extensions[EXTENSION] = connect.redis_client(
        app.config, max_connections=int(app.config["REDIS_POOL_MAX"])
    )
    app.extensions[CHECK_EXTENSION] = ServerCheck(production=app.config["ENV"] == "production")


def check_server(*, again: bool = False) -> None:
    """Raise RedisUnfit (a RedisError, so a 503) unless Redis is >= 7, and durable in production."""
    current_app.extensions[CHECK_EXTENSION](client(), again=again)


def require_fit_server(app: Flask) -> None:
    """Check Redis at startup (production refuses an unfit one) and before each request until
    it passes, so an unfit Redis is a 503 with a log line naming why, never a silent failure."""
    try:
        app.extensions[CHECK_EXTENSION](app.extensions[EXTENSION])
    except redis.ConnectionError:
        pass  # not up yet: the first request checks
    except redis.RedisError:
        if app.config["ENV"] == "production":
            raise

    check, redis_client = app.extensions[CHECK_EXTENSION], app.extensions[EXTENSION]

    @app.before_request
    def _require_fit_server() -> None:
        # The passed flag first: once the check has passed this costs one attribute read a vote.
        if not check.passed and request.blueprint != "health":  # /healthz says it in its words
            check(redis_client)


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
