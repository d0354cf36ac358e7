"""Scoring in one set-based statement, linked rounds' results from the tally, the refresh.

Flask-free: the editor area scores on verification, the scheduler's job scores linked rounds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import redis

from fanfare.predictions import queue, rounds

# Every prediction of one round at once: a pick is all or nothing; a top 3 earns full points
# per exact place and half for a right name in the wrong place; a number earns full points
# when exact and half within 10%.
SCORE_ROUND = """
UPDATE predictions p SET points = CASE r.kind
    WHEN 'pick' THEN CASE WHEN p.option_ids[1] = r.result_option_ids[1] THEN r.points ELSE 0 END
    WHEN 'top3' THEN (
        SELECT coalesce(sum(CASE WHEN p.option_ids[i] = r.result_option_ids[i] THEN r.points
                                 WHEN p.option_ids[i] = ANY (r.result_option_ids)
                                 THEN r.points / 2 ELSE 0 END), 0)
        FROM generate_subscripts(p.option_ids, 1) AS i)
    WHEN 'number' THEN CASE WHEN p.number = r.result_number THEN r.points
                            WHEN abs(p.number - r.result_number) <= abs(r.result_number) / 10
                            THEN r.points / 2 ELSE 0 END
    END
FROM prediction_rounds r
WHERE r.id = %s AND p.round_id = r.id
"""

# Linked rounds whose category has closed (and settled), still without a result.
DUE_LINKED = """
SELECT r.id FROM prediction_rounds r
WHERE r.category_id IS NOT NULL AND r.result_verified_at IS NULL
  AND (SELECT max(w.closes_at) FROM voting_windows w WHERE w.category_id = r.category_id)
      <= %s
"""

# The final tally as the result: the options' nominees in order of votes (pick 1, top3 3),
# or the category's total votes for a number.
TALLY_RESULT = """
UPDATE prediction_rounds r SET
    result_option_ids = CASE WHEN r.kind = 'number' THEN NULL ELSE (
        SELECT array_agg(id ORDER BY votes DESC, position, id) FROM (
            SELECT o.id, o.position, coalesce(t.votes, 0) AS votes
            FROM prediction_options o
            LEFT JOIN tallies t ON t.category_id = r.category_id AND t.nominee_id = o.nominee_id
            WHERE o.round_id = r.id
            ORDER BY votes DESC, o.position, o.id
            LIMIT CASE WHEN r.kind = 'top3' THEN 3 ELSE 1 END) ranked) END,
    result_number = CASE WHEN r.kind = 'number' THEN (
        SELECT coalesce(sum(votes), 0) FROM tallies t WHERE t.category_id = r.category_id)
        END,
    result_entered_at = now(), result_verified_at = now()
WHERE r.id = %s
"""
REFRESH_WORK_MEM = "64MB"
# A closed category's last votes are still being written for a moment (the vote writer batches).
TALLY_SETTLE = timedelta(seconds=10)


def score(conn: psycopg.Connection, r: redis.Redis | None, round_id: int) -> int:
    """Persist the round's last pending predictions, score them all, refresh the leaderboard."""
    if r is not None:
        queue.persist(conn, r, [round_id])
    scored = conn.execute(SCORE_ROUND, (round_id,)).rowcount
    conn.execute("UPDATE prediction_rounds SET scored_at = now() WHERE id = %s", (round_id,))
    refresh(conn)
    return scored


def refresh(conn: psycopg.Connection) -> None:
    """Rebuild the leaderboard without blocking readers (the unique index allows CONCURRENTLY)."""
    # The refresh sorts and diffs every ranked row: in memory, not spilled to disk at 4 MB.
    with conn.transaction():
        conn.execute("SELECT set_config('work_mem', %s, true)", (REFRESH_WORK_MEM,))
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard")


def score_linked(conn: psycopg.Connection, r: redis.Redis | None, now: datetime) -> list[int]:
    """Take the final tally as the result of every due linked round, and score each."""
    due = [row[0] for row in rounds.tuples(conn, DUE_LINKED, (now - TALLY_SETTLE,))]
    for round_id in due:
        conn.execute(TALLY_RESULT, (round_id,))
        score(conn, r, round_id)
    return due
