"""/healthz and /metrics, on every service."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app
from flask.wrappers import Response

from fanfare.infra import db, redis_client
from fanfare.infra.redis_checks import RedisUnfit

bp = Blueprint("health", __name__)
CHECKS = "fanfare.health_checks"
STARTED = time.time()


def check_database() -> None:
    """PostgreSQL answers a trivial query."""
    with db.connection() as conn:
        conn.execute("SELECT 1")


def check_redis() -> None:
    """Redis answers PING."""
    redis_client.client().ping()


def check_redis_fit() -> None:
    """Redis answers, is >= 7, and (in production) keeps what it was given (AOF, noeviction)."""
    redis_client.check_server(again=True)


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    """200 when every dependency of this service answers, 503 otherwise."""
    report, healthy = {}, True
    for name, check in current_app.extensions[CHECKS].items():
        try:
            check()
            report[name] = "ok"
        except Exception as exc:  # any failure means unhealthy; the reason is reported
            report[name] = f"error: {type(exc).__name__}"
            if isinstance(exc, RedisUnfit):
                report[name] += f": {exc}"  # says what to change on the server
            healthy = False
    return {"status": "ok" if healthy else "unavailable", **report}, 200 if healthy else 503


@bp.get("/metrics")
def metrics() -> Response:
    """A few gauges in Prometheus text format."""
    lines = [f"fanfare_uptime_seconds {time.time() - STARTED:.0f}"]
    pool = current_app.extensions.get(db.EXTENSION)
    if pool is not None and not pool.closed:
        for key, value in pool.get_stats().items():
            lines.append(f"fanfare_db_pool_{key} {value}")
    for key, value in current_app.extensions.get("fanfare.metrics", {}).items():
        lines.append(f"fanfare_{key} {value}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


def init_app(app: Flask, checks: dict[str, Callable[[], None]]) -> None:
    """Register the endpoints with the checks this service depends on."""
    app.extensions[CHECKS] = checks
    app.register_blueprint(bp)
