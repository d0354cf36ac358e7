"""The scheduler's prediction job: persist, score linked rounds, refresh, purge. Flask-free."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import psycopg
import redis

from fanfare import settings
from fanfare.edge import keys
from fanfare.predictions import queue, scoring

log = logging.getLogger("fanfare.predictions")


class PredictionJob:
    """Each tick: pending predictions into PostgreSQL, due linked rounds scored, and every
    LEADERBOARD_REFRESH_SECONDS a concurrent refresh if anything was written since.

    The scheduler hands it its Redis client (use_redis); until then it only scores and
    refreshes, so a scheduler built without Redis never reaches a default one by accident.
    """

    def __init__(self) -> None:
        self.redis: redis.Redis | None = None
        self.refresh_every = float(settings.DEFAULTS["LEADERBOARD_REFRESH_SECONDS"])  # type: ignore[arg-type]
        self.dirty = True  # refresh once after start: the view may predate the last run
        self.last_refresh = 0.0

    def use_redis(self, client: redis.Redis, refresh_every: float | None = None) -> None:
        """Bind the scheduler's Redis client (and its refresh interval setting)."""
        self.redis = client
        if refresh_every is not None:
            self.refresh_every = refresh_every

    def __call__(self, conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
        """One tick; returns the keys to purge."""
        if self.redis is not None:
            try:
                # An account deleted in the web app also calls for a refresh.
                stale = self.redis.getdel(queue.LEADERBOARD_STALE) is not None
                if queue.persist(conn, self.redis) or stale:
                    self.dirty = True
            except redis.RedisError as exc:  # predictions wait in Redis; scoring goes on
                log.warning("pending predictions unavailable: %r", exc)
        changed: set[str] = set()
        if scoring.score_linked(conn, self.redis, now):
            changed |= keys.leaderboard_changed()
            self.last_refresh = time.monotonic()
        elif self.dirty and time.monotonic() - self.last_refresh >= self.refresh_every:
            scoring.refresh(conn)
            self.dirty, self.last_refresh = False, time.monotonic()
            changed |= keys.leaderboard_changed()
        return changed


job = PredictionJob()
