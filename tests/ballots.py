"""The demo event's open category, as the vote tests need it."""

from __future__ import annotations

import psycopg

OPEN_CATEGORY = "breakthrough-artist"  # open for voting in the demo event


def open_ballot(database_url: str) -> tuple[int, int]:
    """(category id, one of its nominee ids) of the demo's open category."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = %s ORDER BY n.position LIMIT 1",
            (OPEN_CATEGORY,),
        ).fetchone()
