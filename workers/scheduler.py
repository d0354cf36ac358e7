"""The scheduler: once a second, run each job that turns the clock into side effects.

Window states and publish times are functions of the clock, so votes and pages are judged right
without it; the scheduler only makes the edge notice on time (purges) and carries out work that
is due. Each job takes (conn, since, now) and returns the surrogate keys to purge.

usage: python -m workers.scheduler
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from fanfare.content import publishing
from fanfare.edge import transitions
from fanfare.edge.purge import PurgeClient, client_from_settings
from fanfare.settings import DEFAULTS

log = logging.getLogger("fanfare.scheduler")

Job = Callable[[psycopg.Connection, datetime, datetime], set[str]]
# Jobs register here: (name, function). Each must be safe to run twice for the same moment.
# Publishing runs first, so the transitions job sees what it has just published.
JOBS: list[tuple[str, Job]] = [
    ("publishing", publishing.due),
    ("transitions", transitions.changed_keys),
]
TICK_SECONDS = 0.25


class Scheduler:
    """Runs every job for the interval (since, now] on each tick and purges what they return."""

    def __init__(self, *, conninfo: str, purger: PurgeClient, jobs: list[tuple[str, Job]]) -> None:
        self.conninfo = conninfo
        self.purger = purger
        self.jobs = jobs
        self.stopping = False

    def tick(self, conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
        """Run each job once; a failing job is logged and does not stop the others."""
        keys: set[str] = set()
        for name, job in self.jobs:
            try:
                with conn.transaction():
                    keys |= job(conn, since, now)
            except psycopg.Error:
                log.exception("scheduler job %s failed", name)
        if keys:
            log.info("purging %s", " ".join(sorted(keys)))
            self.purger.purge(keys)
        return keys

    def run(self) -> None:
        """Tick until SIGTERM; reconnect with backoff when PostgreSQL goes away."""
        since = datetime.now(UTC) - timedelta(seconds=1)
        backoff = 0.5
        while not self.stopping:
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    backoff = 0.5
                    while not self.stopping:
                        now = datetime.now(UTC)
                        self.tick(conn, since, now)
                        since = now
                        time.sleep(TICK_SECONDS)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
        self.purger.flush(timeout=5)


def main() -> None:
    """Entry point for the Procfile."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheduler = Scheduler(
        conninfo=os.environ.get("DATABASE_URL") or str(DEFAULTS["DATABASE_URL"]),
        purger=client_from_settings(
            os.environ.get("FANFARE_EDGE_URLS") or str(DEFAULTS["EDGE_URLS"])
        ),
        jobs=JOBS,
    )

    def stop(signum: int, frame: object) -> None:
        scheduler.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.run()


if __name__ == "__main__":
    main()
