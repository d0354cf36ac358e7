"""Final only when counted: the scheduler job that declares a closed window's results final.

A window is final once the stream holds no unacked vote cast before its close (votes/backlog.py),
checked no earlier than IN_FLIGHT after the close, when no such vote can still be on its way.
Then, in one transaction: the window_finals row, the category's Merkle root (tally_proof.py);
after COMMIT the scheduler purges the final results and /history, which are then cached long.
Several schedulers may run: the primary key makes the second one a no-op. Framework-free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
import redis
from psycopg.rows import tuple_row

from fanfare.content.tally_proof import publish_root
from fanfare.edge import keys
from fanfare.infra import sql
from fanfare.votes.backlog import IN_FLIGHT_MS, unacked_before

log = logging.getLogger(__name__)

IN_FLIGHT = timedelta(milliseconds=IN_FLIGHT_MS)

Q = sql.queries("finals")


def mark_final(conn: psycopg.Connection, window_id: int, category_id: int) -> bool:
    """Record a window as counted and publish the category's root; False if already final."""
    inserted = conn.execute(Q.mark_final, (window_id, category_id)).fetchone()
    if inserted is None:
        return False
    root = publish_root(conn, category_id, f"final: window {window_id} counted")
    log.info("category %s final; root v%s %s", category_id, root["version"], root["root"])
    return True


def job(redis_client: redis.Redis) -> Callable[[psycopg.Connection, datetime, datetime], set]:
    """The scheduler job, bound to the Redis that holds the stream."""

    def finals(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
        """Declare final every closed window whose votes are all stored; their keys to purge."""
        changed: set[str] = set()
        with conn.cursor(row_factory=tuple_row) as cur:
            awaiting = cur.execute(Q.awaiting, (now - IN_FLIGHT,)).fetchall()
        for window_id, category_id, closes_at in awaiting:
            try:
                waiting = unacked_before(redis_client, closes_at)
            except redis.RedisError as exc:
                # Without the stream nobody can tell: stay "Counting…", which is never wrong.
                log.warning("cannot check the stream for window %s: %r", window_id, exc)
                return changed
            if waiting:
                continue
            if mark_final(conn, window_id, category_id):
                changed |= keys.results_settled(category_id)
        return changed

    return finals
