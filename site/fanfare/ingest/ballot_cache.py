"""The ballot as ingest sees it: no PostgreSQL query per vote.

Two levels: each process keeps the ballot in memory for BALLOT_REFRESH_SECONDS; flask-caching
(on Redis) shares one copy between processes for BALLOT_CACHE_SECONDS, so PostgreSQL sees about one
query per couple of seconds whatever the vote rate. One caller refreshes while the others keep
using the copy in hand, and if PostgreSQL is down the last ballot stays in use: ingest keeps
accepting votes, and the worker re-judges every one of them anyway.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from flask import Flask, current_app
from flask_caching import Cache

from fanfare import db
from fanfare.ballot import Ballot, load_ballot

log = logging.getLogger(__name__)
EXTENSION = "fanfare.ballot_cache"
CACHE_KEY = "ballot"


class BallotCache:
    """A per-process copy of the ballot over a shared flask-caching entry."""

    def __init__(self, cache: Cache, *, refresh_seconds: float, cache_seconds: int) -> None:
        self.cache = cache
        self.refresh_seconds = refresh_seconds
        self.cache_seconds = cache_seconds
        self._ballot: Ballot | None = None
        self._fresh_until = 0.0
        self._lock = threading.Lock()

    def current(self) -> Ballot:
        """The ballot, at most refresh_seconds old unless PostgreSQL and the cache are down."""
        if self._ballot is not None and time.monotonic() < self._fresh_until:
            return self._ballot
        # Only the first caller waits; the rest keep voting on the copy in hand meanwhile.
        if not self._lock.acquire(blocking=self._ballot is None):
            return self._ballot  # type: ignore[return-value]
        try:
            if self._ballot is None or time.monotonic() >= self._fresh_until:
                self._refresh()
            return self._ballot  # type: ignore[return-value]
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        try:
            ballot = self.cache.get(CACHE_KEY)
            if ballot is None:
                with db.connection() as conn:
                    ballot = load_ballot(conn)
                self.cache.set(CACHE_KEY, ballot, timeout=self.cache_seconds)
        except (db.DatabaseError, redis.RedisError) as exc:
            if self._ballot is None:
                raise
            log.warning("ballot refresh failed (%s); keeping the last one", exc)
            ballot = self._ballot
        self._ballot = ballot
        self._fresh_until = time.monotonic() + self.refresh_seconds

    def forget(self) -> None:
        """Drop the shared copy (after a publish); processes reload within refresh_seconds."""
        self.cache.delete(CACHE_KEY)
        self._fresh_until = 0.0


def init_app(app: Flask) -> None:
    """A flask-caching Redis cache for the shared copy, and this process's BallotCache."""
    app.config.setdefault("CACHE_TYPE", "RedisCache")
    app.config.setdefault("CACHE_REDIS_URL", app.config["REDIS_URL"])
    app.config.setdefault("CACHE_KEY_PREFIX", "fanfare-cache:")
    cache = Cache(app)
    app.extensions[EXTENSION] = BallotCache(
        cache,
        refresh_seconds=float(app.config.get("BALLOT_REFRESH_SECONDS", 1.0)),
        cache_seconds=int(app.config.get("BALLOT_CACHE_SECONDS", 2)),
    )


def ballot() -> Ballot:
    """The current ballot for this process."""
    return current_app.extensions[EXTENSION].current()
