"""Every Prometheus metric of fanfare, defined once, with the small functions callers use.

Flask-free, so the vote writer and the exporter import it too. Under gunicorn each service runs
prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the Procfile and wiped in
gunicorn.conf.py), so one scrape of a service sums every worker. Names follow Prometheus
conventions: `_total` for counters, `_seconds` for durations, base units throughout.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter as Tally

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as _multiprocess

log = logging.getLogger("fanfare.metrics")
# Refusals are logged as one line per reason per interval, not one per vote: a flood of
# refused votes must not become a flood of log lines.
REFUSAL_LOG_SECONDS = 10.0
# Latency buckets for a service whose p50 is a few ms and whose budget is about a second.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Votes (ingest)
VOTES_ACCEPTED = Counter("fanfare_votes_accepted_total", "Votes queued and answered 202/303.")
VOTES_REFUSED = Counter(
    "fanfare_votes_refused_total", "Votes refused, by reason (quota, window, limit...).", ["reason"]
)
VOTES_SHED = Counter("fanfare_votes_shed_total", "Votes answered 503 at once under overload.")

# Every endpoint of web and ingest
REQUEST_SECONDS = Histogram(
    "fanfare_http_request_duration_seconds",
    "Time to answer a request, by endpoint, method and status.",
    ["endpoint", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_EXCEPTIONS = Counter(
    "fanfare_http_exceptions_total",
    "Unhandled exceptions (answered 500), by endpoint.",
    ["endpoint"],
)

# Pools, per service: each worker reports its own; the scrape sums the live ones.
DB_POOL = Gauge(
    "fanfare_db_pool_connections",
    "PostgreSQL pool connections by state (open, idle, waiting requests, max).",
    ["state"],
    multiprocess_mode="livesum",
)
REDIS_POOL = Gauge(
    "fanfare_redis_pool_connections",
    "Redis pool connections by state (open, in_use, max).",
    ["state"],
    multiprocess_mode="livesum",
)

# Redis commands of concurrent requests gathered into one pipeline per flush (infra/gather.py)
REDIS_GATHERED = Counter(
    "fanfare_redis_gathered_commands_total", "Commands sent in gathered flushes."
)
REDIS_FLUSHES = Counter("fanfare_redis_gather_flushes_total", "Pipelines the gatherer flushed.")

# The vote writer
BATCH_SECONDS = Histogram(
    "fanfare_writer_batch_duration_seconds",
    "Time to store one batch in PostgreSQL and ack it.",
    buckets=BATCH_BUCKETS,
)
VOTES_STORED = Counter(
    "fanfare_writer_votes_total", "Stream entries the writer finished, by outcome.", ["outcome"]
)

# Purges (any process that purges)
PURGES_SENT = Counter("fanfare_purges_sent_total", "Purge requests an edge accepted.")
PURGES_FAILED = Counter(
    "fanfare_purges_failed_total",
    "Purge requests that failed (retried or given up), by kind.",
    ["kind"],
)

_refusals: Tally[str] = Tally()
_next_refusal_log = [0.0]


def multiprocess_dir() -> str | None:
    """The directory this service's processes share, or None in a single process (tests)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """This service's metrics in the text format: every worker's in multiprocess mode."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def vote_accepted() -> None:
    """A vote was queued and answered."""
    VOTES_ACCEPTED.inc()


def vote_shed() -> None:
    """A vote was turned away at once because ingest could not answer it within budget."""
    VOTES_SHED.inc()


def vote_refused(reason: str) -> None:
    """A vote was refused; its reason is counted and logged once per interval."""
    VOTES_REFUSED.labels(reason=reason).inc()
    _refusals[reason] += 1
    now = time.monotonic()
    if now >= _next_refusal_log[0]:
        _next_refusal_log[0] = now + REFUSAL_LOG_SECONDS
        for name, count in sorted(_refusals.items()):
            log.info("event=votes_refused reason=%s count=%d pid=%d", name, count, os.getpid())
        _refusals.clear()


def batch_written(
    seconds: float, *, entries: int, statuses: dict[object, tuple[str, str | None]], dead: int
) -> None:
    """One writer batch: its latency, its entries by outcome, and one log line (logfmt)."""
    BATCH_SECONDS.observe(seconds)
    counted = sum(1 for state, _ in statuses.values() if state == "counted")
    outcomes = {"counted": counted, "rejected": len(statuses) - counted, "dead": dead}
    for outcome, count in outcomes.items():
        if count:
            VOTES_STORED.labels(outcome=outcome).inc(count)
    log.info(
        "event=batch entries=%d counted=%d rejected=%d dead=%d seconds=%.4f",
        entries,
        counted,
        outcomes["rejected"],
        dead,
        seconds,
    )


def purge_sent() -> None:
    """An edge accepted one purge request."""
    PURGES_SENT.inc()


def purge_failed(kind: str) -> None:
    """One purge request failed: `retry` (will be sent again), `refused` or `gave_up`."""
    PURGES_FAILED.labels(kind=kind).inc()


def serve(port: int) -> None:
    """For a plain process (the vote writer): answer /metrics on 127.0.0.1:port; 0 = don't."""
    if not port:
        return
    try:
        start_http_server(port, addr="127.0.0.1")
    except OSError as exc:  # a second writer on this host: it still writes, unscraped
        log.warning("event=metrics_unserved port=%d error=%s", port, exc)
