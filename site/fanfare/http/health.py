"""/healthz and /metrics, on every service."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, current_app
from flask.wrappers import Response

from fanfare.http import metrics as http_metrics
from fanfare.infra import db, redis_client
from fanfare.infra.redis_checks import RedisUnfit

bp = Blueprint("health", __name__)
CHECKS = "fanfare.health_checks"


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
    """Prometheus text format for the whole service (every gunicorn worker), for operators."""
    return http_metrics.metrics_response()


def init_app(app: Flask, checks: dict[str, Callable[[], None]]) -> None:
    """Register the endpoints with the checks this service depends on, and time requests."""
    app.extensions[CHECKS] = checks
    app.register_blueprint(bp)
    http_metrics.init_app(app)
