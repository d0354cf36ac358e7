"""Scoring in one set-based statement, linked rounds' results from the tally, the refresh.

Flask-free: the editor area scores on verification, the scheduler's job scores linked rounds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import redis

from fanfare.infra import sql
from fanfare.predictions import queue, rounds

Q = sql.queries("predictions")

REFRESH_WORK_MEM = "64MB"
# A closed category's last votes are still being written for a moment (the vote writer batches).
TALLY_SETTLE = timedelta(seconds=10)


def score(conn: psycopg.Connection, r: redis.Redis | None, round_id: int) -> int:
    """Persist the round's last pending predictions, score them all, refresh the leaderboard."""
    if r is not None:
        queue.persist(conn, r, [round_id])
    scored = conn.execute(Q.score_round, (round_id,)).rowcount
    conn.execute(Q.mark_scored, (round_id,))
    refresh(conn)
    return scored


def refresh(conn: psycopg.Connection) -> None:
    """Rebuild the leaderboard without blocking readers (the unique index allows CONCURRENTLY)."""
    # The refresh sorts and diffs every ranked row: in memory, not spilled to disk at 4 MB.
    with conn.transaction():
        conn.execute("SELECT set_config('work_mem', %s, true)", (REFRESH_WORK_MEM,))
        conn.execute(Q.refresh_leaderboard)


def score_linked(conn: psycopg.Connection, r: redis.Redis | None, now: datetime) -> list[int]:
    """Take the final tally as the result of every due linked round, and score each."""
    due = [row[0] for row in rounds.tuples(conn, Q.due_linked, (now - TALLY_SETTLE,))]
    for round_id in due:
        conn.execute(Q.tally_result, (round_id,))
        score(conn, r, round_id)
    return due
