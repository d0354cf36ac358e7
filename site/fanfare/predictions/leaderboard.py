"""Reading the leaderboard materialized view: the top, a fan's neighbourhood, a share card."""

from __future__ import annotations

import psycopg

from fanfare.infra import sql

Q = sql.queries("predictions")

# event_id 0 is the overall board (the view's convention; no event has id 0).
OVERALL = 0


def top(conn: psycopg.Connection, scope: int = OVERALL, limit: int = 100) -> list[dict]:
    """The first `limit` places, ties sharing a rank."""
    return sql.rows(conn, Q.leaderboard_top, (scope, limit))


def around(conn: psycopg.Connection, fan_id: int, scope: int = OVERALL, n: int = 2) -> list[dict]:
    """The fan's own row and the n places either side; empty before the fan is ranked."""
    return sql.rows(conn, Q.leaderboard_around, {"scope": scope, "fan": fan_id, "n": n})


def card(conn: psycopg.Connection, public_id: str, scope: int = OVERALL) -> dict | None:
    """What a fan's share card shows, or None for an unknown (or deleted) fan."""
    return sql.one(conn, Q.leaderboard_card, (scope, public_id))
