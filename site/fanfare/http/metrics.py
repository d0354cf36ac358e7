"""The apps' side of the metrics: time every request, count votes by outcome, sample the pools.

The definitions live in fanfare.infra.metrics; this module only hooks them into Flask. Per request
it costs one clock read before and one histogram observation after; the pools are sampled at most
once a second per worker, so a scrape sees figures at most a second old from every live worker.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g, request
from flask.wrappers import Response

from fanfare.infra import db, metrics
from fanfare.infra import redis_client as redis_ext

POOL_SAMPLE_SECONDS = 1.0
# The ingest endpoint whose answers are counted as votes; 202 (htmx) and 303 (no JS) accept.
CAST_ENDPOINT = "votes.cast"
ACCEPTED = (202, 303)
# What ingest's vote path sets on g when it refuses a vote (reason code) or sheds it ("shed").
REFUSAL = "vote_refusal"
_next_pool_sample = [0.0]


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _observed(response: Response) -> Response:
    """Record the answer's latency by endpoint and status, and the vote's outcome."""
    started = g.pop("metrics_started", None)
    req = request._get_current_object()  # one context lookup: this runs on every vote
    endpoint = req.endpoint or "unmatched"  # 404s: one label, not one per URL
    status = response.status_code
    if started is not None:
        metrics.REQUEST_SECONDS.labels(endpoint, req.method, str(status)).observe(
            time.perf_counter() - started
        )
    if endpoint == CAST_ENDPOINT:
        _count_vote(status)
    now = time.monotonic()
    if now >= _next_pool_sample[0]:
        _next_pool_sample[0] = now + POOL_SAMPLE_SECONDS
        sample_pools(current_app)
    return response


def _count_vote(status: int) -> None:
    """Accepted, shed or refused (with the reason ingest gave, else the status code)."""
    reason = g.get(REFUSAL)
    if status in ACCEPTED and reason is None:
        metrics.vote_accepted()
    elif reason == "shed":
        metrics.vote_shed()
    else:
        metrics.vote_refused(str(reason or status))


def _exception(exc: BaseException | None) -> None:
    if exc is not None:
        metrics.REQUEST_EXCEPTIONS.labels(request.endpoint or "unmatched").inc()


def sample_pools(app: Flask) -> None:
    """This worker's PostgreSQL and Redis pool usage, into the livesum gauges."""
    pool = app.extensions.get(db.EXTENSION)
    if pool is not None and not pool.closed:
        stats = pool.get_stats()
        metrics.DB_POOL.labels("open").set(stats.get("pool_size", 0))
        metrics.DB_POOL.labels("idle").set(stats.get("pool_available", 0))
        metrics.DB_POOL.labels("waiting").set(stats.get("requests_waiting", 0))
        metrics.DB_POOL.labels("max").set(stats.get("pool_max", 0))
    client = app.extensions.get(redis_ext.EXTENSION)
    if client is not None:
        redis_pool = client.connection_pool
        # redis-py keeps no public count; a BlockingConnectionPool queues idle connections and
        # None placeholders for the ones it has not opened yet.
        opened = len(getattr(redis_pool, "_connections", ()))
        queue = getattr(getattr(redis_pool, "pool", None), "queue", ())
        idle = sum(1 for conn in list(queue) if conn is not None)
        metrics.REDIS_POOL.labels("open").set(opened)
        metrics.REDIS_POOL.labels("in_use").set(opened - idle)
        metrics.REDIS_POOL.labels("max").set(redis_pool.max_connections)


def metrics_response() -> Response:
    """GET /metrics: the whole service in one scrape."""
    sample_pools(current_app)
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def init_app(app: Flask) -> None:
    """Time every request of this app."""
    app.before_request(_started)
    app.after_request(_observed)
    app.teardown_request(_exception)
