"""The exporter: once a second, look at the queue, the edge and every service, for operators.

It serves what no single service can tell about itself on its own /metrics (EXPORTER_PORT):
the queue (depth, writer lag, dead letters, live writers, from Redis), the edge (varnishstat
counters), and whether Redis and PostgreSQL answer. It also writes one sample per figure per
second into Redis for the ops page (fanfare.ops.figures), computing rates from the services'
/metrics as Prometheus would. Exactly one runs per deployment.

usage: python -m workers.ops_exporter
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import psycopg
import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from fanfare import settings
from fanfare.infra import connect
from fanfare.ops import edge_stats, figures, scrape
from fanfare.ops.queue import QueueStats, queue_stats
from workers.lifecycle import setup_logging, stop_on_signals

log = logging.getLogger("fanfare.exporter")
TICK_SECONDS = 1.0
# A service that does not answer within this is reported down, not waited for: the tick is 1 s.
SCRAPE_TIMEOUT_SECONDS = 1.0
# Cumulative counters whose per-second rate is an ops figure: figure -> counter.
RATES = {
    "accepted_per_s": "accepted",
    "refused_per_s": "refused",
    "shed_per_s": "shed",
    "stored_per_s": "stored",
    "errors_per_s": "errors",
    "edge_requests_per_s": "edge_requests",
    "backend_fetches_per_s": "backend_fetches",
}


def scrape_urls(value: object) -> dict[str, str]:
    """OPS_SCRAPE_URLS ("job=url job=url") as a mapping."""
    pairs = (word.partition("=") for word in settings.words(value))
    return {job: url for job, _, url in pairs if url}


def service_counters(samples: scrape.Samples) -> dict[str, float]:
    """The cumulative counters and gauges one service's scrape contributes to the figures."""
    total = scrape.total
    return {
        "accepted": total(samples, "fanfare_votes_accepted_total"),
        "refused": total(samples, "fanfare_votes_refused_total"),
        "shed": total(samples, "fanfare_votes_shed_total"),
        "errors": total(samples, "fanfare_http_request_duration_seconds_count", status="^5"),
        "stored": total(samples, "fanfare_writer_votes_total"),
        "batch_sum": total(samples, "fanfare_writer_batch_duration_seconds_sum"),
        "batch_count": total(samples, "fanfare_writer_batch_duration_seconds_count"),
        "db_waiting": total(samples, "fanfare_db_pool_connections", state="waiting"),
        "redis_in_use": total(samples, "fanfare_redis_pool_connections", state="in_use"),
    }


class Exporter:
    """Samples everything once per tick; the collector serves the last sample."""

    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        conninfo: str,
        connect_kwargs: Mapping[str, Any] | None = None,
        urls: dict[str, str],
        varnish_dir: str,
    ) -> None:
        self.redis = redis_client
        self.conninfo = conninfo
        self.connect_kwargs = dict(connect_kwargs or {})  # prepare_threshold behind PgBouncer
        self.urls = urls
        self.varnish_dir = varnish_dir
        self.stopping = False
        self.queue: QueueStats | None = None
        self.edge: dict[str, int] = {}
        self.up: dict[str, bool] = {}
        self._previous: tuple[float, dict[str, float]] | None = None
        self._db: psycopg.Connection | None = None

    def tick(self, now: float | None = None) -> dict[str, float]:
        """Look at everything once, record the figures for the ops page, and return them."""
        now = time.time() if now is None else now
        counters: dict[str, float] = {}
        for job, url in self.urls.items():
            try:
                samples = scrape.fetch(url, timeout=SCRAPE_TIMEOUT_SECONDS)
            except OSError:
                self.up[job] = False
                continue
            self.up[job] = True
            for name, value in service_counters(samples).items():
                counters[name] = counters.get(name, 0.0) + value
        values = {k: counters[k] for k in ("db_waiting", "redis_in_use") if k in counters}
        try:
            self.edge = edge_stats.read(self.varnish_dir, timeout=2.0)
            self.up["edge"] = True
            counters.update(
                edge_requests=self.edge.get("requests", 0),
                backend_fetches=self.edge.get("backend_fetches", 0),
                hits=self.edge.get("hits", 0),
                misses=self.edge.get("misses", 0),
            )
        except edge_stats.EdgeStatsError:
            self.edge, self.up["edge"] = {}, False
        values.update(self._rates(now, counters))
        self.up["postgres"] = self._postgres_answers()
        try:
            self.queue = queue_stats(self.redis, now_ms=int(now * 1000))
            self.up["redis"] = True
        except redis.RedisError:
            self.queue, self.up["redis"] = None, False
            return values
        values.update(
            queue_depth=self.queue.depth,
            writer_lag=self.queue.lag_seconds,
            dead_letters=self.queue.dead_letters,
            writers=self.queue.writers,
        )
        figures.record(self.redis, values, at=now)
        return values

    def _rates(self, now: float, counters: dict[str, float]) -> dict[str, float]:
        """Per-second rates since the previous tick (a restarted counter counts from zero)."""
        previous, self._previous = self._previous, (now, counters)
        if previous is None or now <= previous[0]:
            return {}
        seconds, before = now - previous[0], previous[1]

        def delta(name: str) -> float | None:
            if name not in counters or name not in before:
                return None
            change = counters[name] - before[name]
            return counters[name] if change < 0 else change

        rates = {}
        for figure, counter in RATES.items():
            change = delta(counter)
            if change is not None:
                rates[figure] = change / seconds
        batches, spent = delta("batch_count"), delta("batch_sum")
        if batches and spent is not None:
            rates["batch_seconds"] = spent / batches
        hits, misses = delta("hits"), delta("misses")
        if hits is not None and misses is not None and hits + misses > 0:
            rates["edge_hit_ratio"] = hits / (hits + misses)
        return rates

    def _postgres_answers(self) -> bool:
        """SELECT 1 on a kept connection (reopened after a failure): no connection churn."""
        try:
            if self._db is None or self._db.closed:
                self._db = psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=2, **self.connect_kwargs
                )
            self._db.execute("SELECT 1")
            return True
        except psycopg.Error:
            if self._db is not None:
                self._db.close()
            self._db = None
            return False

    def collect(self):
        """The prometheus-client collector: the last tick's figures."""
        for name, ok in sorted(self.up.items()):
            gauge = GaugeMetricFamily(f"fanfare_{name}_up", f"1 when {name} answered last tick.")
            gauge.add_metric([], 1.0 if ok else 0.0)
            yield gauge
        if self.queue is not None:
            for name, value, text in (
                ("fanfare_queue_depth", self.queue.depth, "Votes queued and not yet acked."),
                ("fanfare_queue_pending", self.queue.pending, "Votes delivered, not yet acked."),
                ("fanfare_queue_lag_seconds", self.queue.lag_seconds, "Oldest unacked vote's age."),
                ("fanfare_queue_dead_letters", self.queue.dead_letters, "Dead-lettered entries."),
                ("fanfare_queue_writers", self.queue.writers, "Vote writers reading the stream."),
            ):
                yield GaugeMetricFamily(name, text, value=value)
        for ours in edge_stats.FIELDS.values():
            if ours in self.edge:
                yield CounterMetricFamily(
                    f"fanfare_edge_{ours}", f"Edge {ours.replace('_', ' ')}.", self.edge[ours]
                )

    def run(self) -> None:
        """Tick once a second until stopped; nothing it looks at failing stops it."""
        while not self.stopping:
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # a surprise must not take the operators' eyes away
                log.exception("event=exporter_tick_failed")
            time.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - started)))
        if self._db is not None:
            self._db.close()
        self.redis.close()


def main() -> None:
    """Entry point for the Procfile."""
    setup_logging()
    values = settings.load()
    exporter = Exporter(
        redis_client=connect.redis_client(values, max_connections=4, socket_timeout=2),
        conninfo=str(values["DATABASE_URL"]),
        connect_kwargs=connect.pg_kwargs(values),
        urls=scrape_urls(values["OPS_SCRAPE_URLS"]),
        varnish_dir=str(values["OPS_VARNISH_DIR"]),
    )
    registry = CollectorRegistry()
    registry.register(exporter)
    port = int(values["EXPORTER_PORT"])  # type: ignore[call-overload]
    if port:
        start_http_server(port, addr="127.0.0.1", registry=registry)
    stop_on_signals(exporter)
    exporter.run()


if __name__ == "__main__":
    main()
