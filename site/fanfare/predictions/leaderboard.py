"""Reading the leaderboard materialized view: the top, a fan's neighbourhood, a share card."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

# event_id 0 is the overall board (the view's convention; no event has id 0).
OVERALL = 0

TOP = """
SELECT l.rank, l.place, l.points, f.nickname, f.public_id
FROM leaderboard l JOIN fans f ON f.id = l.fan_id
WHERE l.event_id = %s AND l.place <= %s
ORDER BY l.place
"""

AROUND = """
WITH me AS (SELECT place FROM leaderboard WHERE event_id = %(scope)s AND fan_id = %(fan)s)
SELECT l.rank, l.place, l.points, f.nickname, f.public_id, l.fan_id = %(fan)s AS is_me
FROM leaderboard l JOIN fans f ON f.id = l.fan_id, me
WHERE l.event_id = %(scope)s AND l.place BETWEEN me.place - %(n)s AND me.place + %(n)s
ORDER BY l.place
"""

CARD = """
SELECT f.nickname, f.public_id, l.rank, l.points,
       (SELECT count(*) FROM leaderboard a WHERE a.event_id = l.event_id) AS fans
FROM fans f LEFT JOIN leaderboard l ON l.fan_id = f.id AND l.event_id = %s
WHERE f.public_id = %s
"""


def top(conn: psycopg.Connection, scope: int = OVERALL, limit: int = 100) -> list[dict]:
    """The first `limit` places, ties sharing a rank."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(TOP, (scope, limit)).fetchall()


def around(conn: psycopg.Connection, fan_id: int, scope: int = OVERALL, n: int = 2) -> list[dict]:
    """The fan's own row and the n places either side; empty before the fan is ranked."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(AROUND, {"scope": scope, "fan": fan_id, "n": n}).fetchall()


def card(conn: psycopg.Connection, public_id: str, scope: int = OVERALL) -> dict | None:
    """What a fan's share card shows, or None for an unknown (or deleted) fan."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(CARD, (scope, public_id)).fetchone()
