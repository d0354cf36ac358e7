"""The audit log: who did what, when. Written in the same transaction as the change itself."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fanfare.infra import sql

Q = sql.queries("audit")


def record(
    conn: psycopg.Connection,
    editor: dict,
    action: str,
    kind: str,
    target_id: int | None = None,
    detail: dict | None = None,
) -> None:
    """Append one entry; `editor` is {"id", "email"} (id None for the scheduler)."""
    conn.execute(
        Q.record,
        (editor.get("id"), editor["email"], action, kind, target_id, Jsonb(detail or {})),
    )


def recent(conn: psycopg.Connection, limit: int = 200) -> list[dict]:
    """The newest entries first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.recent, (limit,)).fetchall()
