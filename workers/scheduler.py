"""The scheduler: once a second, run each job that turns the clock into side effects.

Window states and publish times are functions of the clock, so votes and pages are judged right
without it; the scheduler only makes the edge notice on time (purges) and carries out work that
is due. Each job takes (conn, since, now) and returns the surrogate keys to purge.

usage: python -m workers.scheduler
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

from fanfare import settings
from fanfare.content import after_publish, finals, publishing, reveal, translations
from fanfare.edge import transitions
from fanfare.edge.purge import PurgeClient, client_from_settings
from fanfare.fans import outbox
from fanfare.fraud import detection
from fanfare.infra import connect
from fanfare.predictions import jobs as prediction_jobs
from workers.lifecycle import Backoff, setup_logging, stop_on_signals

log = logging.getLogger("fanfare.scheduler")

Job = Callable[[psycopg.Connection, datetime, datetime], set[str]]
# Jobs register here: (name, function). Each must be safe to run twice for the same moment.
# Publishing runs first, so the transitions job sees what it has just published.
JOBS: list[tuple[str, Job]] = [
    ("publishing", publishing.due),
    ("translations", translations.due),
    ("transitions", transitions.changed_keys),
    ("reveals", reveal.due),
    # Pending predictions into PostgreSQL, linked rounds scored, the leaderboard refreshed.
    ("predictions", prediction_jobs.job),
    # Sign-in mail queued by the web app, sent over one SMTP session per tick.
    ("mail", outbox.job),
]


def jobs_with_redis(redis_client: redis.Redis) -> list[tuple[str, Job]]:
    """JOBS, then the jobs that also read the stream: finals declares results final."""
    return [*JOBS, ("finals", finals.job(redis_client))]


TICK_SECONDS = 0.25


class Scheduler:
    """Runs every job for the interval (since, now] on each tick and announces what changed."""

    def __init__(
        self,
        *,
        conninfo: str,
        connect_kwargs: Mapping[str, Any] | None = None,
        purger: PurgeClient,
        redis_client: redis.Redis,
        jobs: list[tuple[str, Job]],
    ) -> None:
        self.conninfo = conninfo
        self.connect_kwargs = dict(connect_kwargs or {})  # prepare_threshold behind PgBouncer
        self.purger = purger
        self.redis = redis_client
        self.jobs = jobs
        self.stopping = False
        for _, job in jobs:
            if hasattr(job, "use_redis"):  # a job that reads queues in Redis gets this client
                job.use_redis(redis_client)

    def tick(self, conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
        """Run each job once; a failing job is logged and does not stop the others."""
        keys: set[str] = set()
        for name, job in self.jobs:
            try:
                with conn.transaction():
                    keys |= job(conn, since, now)
            except psycopg.Error:
                log.exception("scheduler job %s failed", name)
        # The same after-publish step as the editor area's: purge, and drop ingest's ballot.
        after_publish.announce(keys, purger=self.purger, redis_client=self.redis)
        return keys

    def run(self) -> None:
        """Tick until SIGTERM; reconnect with backoff when PostgreSQL goes away."""
        since = datetime.now(UTC) - timedelta(seconds=1)
        backoff = Backoff(base=0.5)
        while not self.stopping:
            try:
                with psycopg.connect(self.conninfo, autocommit=True, **self.connect_kwargs) as conn:
                    backoff.reset()
                    while not self.stopping:
                        now = datetime.now(UTC)
                        self.tick(conn, since, now)
                        since = now
                        time.sleep(TICK_SECONDS)
            except psycopg.OperationalError as exc:
                delay = backoff.next()
                log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
        self.purger.flush(timeout=5)


def main() -> None:
    """Entry point for the Procfile."""
    setup_logging()
    values = settings.load()
    redis_client = connect.redis_client(values, max_connections=4, socket_timeout=2)
    scheduler = Scheduler(
        conninfo=str(values["DATABASE_URL"]),
        connect_kwargs=connect.pg_kwargs(values),
        purger=client_from_settings(values),
        redis_client=redis_client,
        # Fraud detection needs the thresholds and Redis (flagged networks get challenged).
        jobs=[
            *jobs_with_redis(redis_client),
            ("fraud detection", detection.job(values, redis_client)),
        ],
    )

    prediction_jobs.job.refresh_every = float(values["LEADERBOARD_REFRESH_SECONDS"])  # type: ignore[arg-type]
    stop_on_signals(scheduler)
    scheduler.run()


if __name__ == "__main__":
    main()
