"""What the clock changes: the surrogate keys to purge when windows open or close and when
scheduled content goes live.

A window's state and a row's visibility are functions of the clock (ballot.py, content.py), so
nothing is flipped here; the edge only has to drop the copies that showed the old state. The
scheduler calls `changed_keys` for each tick's interval (since, now].
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from fanfare.edge import keys
from fanfare.infra import sql

Q = sql.queries("transitions")

# Each moment is purged twice: at the tick that passes it, and again ECHO later. The second
# purge catches a page that was rendered just before the moment but reached the edge just
# after the first purge, and the up-to-one-second overshoot of a whole-second s-maxage.
ECHO = timedelta(seconds=2)


def keys_between(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """Keys of everything whose state changes by the clock in (since, now]."""
    window = {"since": since, "now": now}
    changed: set[str] = set()
    for category_id, event_id, closed in conn.execute(Q.windows_moved, window).fetchall():
        changed |= keys.window_changed(category_id, event_id, closed=closed)
    for kind, row_id, event_id, category_id, category_ids in conn.execute(
        Q.published, window
    ).fetchall():
        # Content that goes live by the clock appears exactly as if it were published now.
        row = {"id": row_id, "event_id": event_id, "category_id": category_id}
        changed |= keys.content_changed(
            kind, row, event_category_ids=category_ids or (), appeared=True
        )
    return changed


def changed_keys(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """The scheduler job: keys for moments in (since, now], and again ECHO later."""
    return keys_between(conn, since, now) | keys_between(conn, since - ECHO, now - ECHO)
