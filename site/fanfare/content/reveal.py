"""Reveal on cue: an editor's Reveal now, or at a scheduled time, for 'on_cue' categories.

Visibility is a function of the clock (catalog.with_state: reveal_at has passed and the results
are final), so a scheduled reveal needs no flag flipped; the scheduler job `due` only purges the
edge at that moment. Both are audited in the same transaction. Framework-free.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import tuple_row

from fanfare.content import audit
from fanfare.edge import keys
from fanfare.infra import sql

Q = sql.queries("reveal")

# As in edge/transitions.py: purge each moment again a little later, for pages in flight.
ECHO = timedelta(seconds=2)


class RevealError(ValueError):
    """The reveal cannot be done (wrong results mode, unknown category)."""


def reveal(conn: psycopg.Connection, category_id: int, editor: dict, at: datetime) -> set[str]:
    """Reveal an on_cue category at `at` (now or later); return the keys to purge after COMMIT."""
    with conn.transaction():
        row = conn.execute(Q.set_reveal, (at, category_id)).fetchone()
        if row is None:
            raise RevealError("Only a category whose results show on cue can be revealed.")
        audit.record(conn, editor, "reveal", "category", category_id, {"reveal_at": at.isoformat()})
    return keys.results_settled(category_id)


def _between(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    changed: set[str] = set()
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(Q.revealed_between, (since, now)).fetchall()
    for (category_id,) in rows:
        changed |= keys.results_settled(category_id)
    return changed


def due(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """The scheduler job: keys of categories revealed by the clock in (since, now], and echoes."""
    return _between(conn, since, now) | _between(conn, since - ECHO, now - ECHO)
