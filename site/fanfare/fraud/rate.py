"""The fraud rate for the operations page: flagged and invalidated votes per minute.

Call `fraud_rate(conn)` (site/fanfare/fraud/rate.py) from /admin/ops or a metrics collector.
Flask-free.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import tuple_row

from fanfare.infra import sql

Q = sql.queries("fraud")


def fraud_rate(conn: psycopg.Connection, minutes: int = 5) -> dict[str, float]:
    """Over the last `minutes`: flagged votes/min, new flags/min, invalidated votes/min."""
    with conn.cursor(row_factory=tuple_row) as cur:
        flagged, flags, invalidated = cur.execute(Q.fraud_rate, {"minutes": minutes}).fetchone()
    return {
        "flagged_votes_per_minute": float(flagged) / minutes,
        "flags_per_minute": float(flags) / minutes,
        "invalidated_votes_per_minute": float(invalidated) / minutes,
    }
