"""The ballot as ingest sees it: no PostgreSQL query per vote.

Two levels: each process keeps the ballot in memory for BALLOT_REFRESH_SECONDS; flask-caching
(on Redis) shares one copy between processes, reloaded from PostgreSQL once it is older than
BALLOT_CACHE_SECONDS, so PostgreSQL sees about one query per couple of seconds whatever the vote
rate. One caller refreshes while the others keep using the copy in hand. If PostgreSQL is down,
the last ballot (this process's, or the shared one, kept for a day) stays in use: ingest keeps
accepting votes, and the worker re-judges every one of them anyway.

After a publish, `ballot.forget_shared` (content/after_publish.py) makes every ingest reload.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import redis
from flask import Flask, current_app
from flask_caching import Cache

from fanfare.http import i18n
from fanfare.infra import db, redis_client
from fanfare.votes.ballot import (
    SHARED_CACHE_KEY,
    SHARED_CACHE_PREFIX,
    Ballot,
    Rules,
    load_ballot,
)

log = logging.getLogger(__name__)
EXTENSION = "fanfare.ballot_cache"
KEEP_SECONDS = 86400
LOAD_TIMEOUT_SECONDS = 2.0


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
        shared: tuple[float, Ballot] | None = None
        try:
            shared = self.cache.get(SHARED_CACHE_KEY)
            if shared is None or time.time() - shared[0] >= self.cache_seconds:
                shared = (time.time(), _load())
                self.cache.set(SHARED_CACHE_KEY, shared, timeout=KEEP_SECONDS)
            ballot = shared[1]
        except (psycopg.OperationalError, redis.RedisError) as exc:
            fallback = self._ballot or (shared[1] if shared else None)
            if fallback is None:
                raise
            log.warning("ballot refresh failed (%s); keeping the last one", exc)
            ballot = fallback
        self._ballot = ballot
        self._fresh_until = time.monotonic() + self.refresh_seconds


def _load() -> Ballot:
    """Load from PostgreSQL, giving up after a couple of seconds rather than the pool's 30."""
    with db.pool().connection(timeout=LOAD_TIMEOUT_SECONDS) as conn:
        return load_ballot(conn)


def init_app(app: Flask) -> None:
    """A flask-caching Redis cache for the shared copy, and this process's BallotCache."""
    app.config.setdefault("CACHE_TYPE", "RedisCache")
    # The app's own client (infra/redis_client.py), so the cache follows Sentinel in a fleet too.
    app.config.setdefault("CACHE_REDIS_HOST", app.extensions[redis_client.EXTENSION])
    app.config.setdefault("SHARED_CACHE_KEY_PREFIX", SHARED_CACHE_PREFIX)
    cache = Cache(app)
    app.extensions[EXTENSION] = BallotCache(
        cache,
        refresh_seconds=float(app.config["BALLOT_REFRESH_SECONDS"]),
        cache_seconds=int(app.config["BALLOT_CACHE_SECONDS"]),
    )


def ballot() -> Ballot:
    """The current ballot for this process."""
    return current_app.extensions[EXTENSION].current()


def in_page_language(rules: Rules | None) -> Rules | None:
    """A category's rules with the names fans read in this request's language."""
    language = i18n.content_language()
    if rules is None or language is None:
        return rules
    try:
        return ballot().rules_in(rules.id, language) or rules
    except (db.DatabaseError, psycopg.OperationalError, redis.RedisError):
        return rules  # the names in the default language rather than no answer
