"""Invalidating votes after review, and undoing it: marked, never deleted; tallies kept exact.

One transaction each: mark the selected votes (or unmark them), move the tallies by exactly the
number of votes per nominee that changed state, record the invalidation and the audit entry.
The tally rows are locked in (category, nominee) order, the vote writer's order, so the two
never deadlock, and a batch the writer commits meanwhile is counted on top, never lost.
The caller purges the results at the edge after COMMIT (web/admin/fraud.py).
Flask-free; works on connections with any row factory (the web pool's is dict_row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from fanfare.content import audit

# The signal columns a selection may name; nothing else reaches the SQL as an identifier.
COLUMNS = {"ip": "ip_hash", "subnet": "subnet_hash", "ua": "ua_hash"}
MARK = sql.SQL("""
WITH hit AS (
  UPDATE votes SET invalidation_id = %(id)s
  WHERE counted AND invalidation_id IS NULL AND {column} = %(subject)s
    AND cast_at >= %(from)s AND cast_at < %(to)s {extra}
  RETURNING category_id, nominee_id
)
SELECT category_id, nominee_id, count(*) FROM hit GROUP BY 1, 2 ORDER BY 1, 2
""")
UNMARK = """
WITH hit AS (
  UPDATE votes SET invalidation_id = NULL WHERE invalidation_id = %(id)s
  RETURNING category_id, nominee_id
)
SELECT category_id, nominee_id, count(*) FROM hit GROUP BY 1, 2 ORDER BY 1, 2
"""
LOCK_TALLIES = """
SELECT 1 FROM tallies WHERE (category_id, nominee_id) IN (SELECT * FROM unnest(%s::bigint[],
  %s::bigint[])) ORDER BY category_id, nominee_id FOR UPDATE
"""
MOVE_TALLIES = """
UPDATE tallies t SET votes = t.votes + d.delta, updated_at = now()
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS d(category_id, nominee_id, delta)
WHERE t.category_id = d.category_id AND t.nominee_id = d.nominee_id
"""


class NothingToDo(ValueError):
    """The selection or invalidation is not valid (no reason, unknown, already undone)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Votes to invalidate: those of one signal hash within [start, end), maybe one nominee."""

    kind: str  # ip | subnet | ua
    subject: str
    start: datetime
    end: datetime
    category_id: int | None = None
    nominee_id: int | None = None
    new_voters_only: bool = False
    flag_id: int | None = None

    def as_json(self) -> dict:
        """For the invalidation row and the audit log."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "category_id": self.category_id,
            "nominee_id": self.nominee_id,
            "new_voters_only": self.new_voters_only,
            "flag_id": self.flag_id,
        }


def for_flag(conn: psycopg.Connection, flag_id: int) -> Selection:
    """The votes behind a flag: its signal, category (and nominee) within its time bucket."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT kind, subject, category_id, nominee_id, bucket_start,"
            " bucket_start + make_interval(secs => window_seconds) FROM fraud_flags WHERE id = %s",
            (flag_id,),
        ).fetchone()
    if row is None:
        raise NothingToDo("no such flag")
    kind, subject, category_id, nominee_id, start, end = row
    new_voters = kind == "new_voters"
    return Selection(
        kind="subnet" if new_voters else kind,
        subject=subject,
        start=start,
        end=end,
        category_id=category_id,
        nominee_id=None if new_voters else nominee_id,
        new_voters_only=new_voters,
        flag_id=flag_id,
    )


def _move(cur: psycopg.Cursor, changed: list[tuple[int, int, int]], sign: int) -> None:
    """Lock the tallies in the writer's order, then move them by the changed votes."""
    if not changed:
        return
    categories, nominees, counts = (list(column) for column in zip(*changed, strict=True))
    cur.execute(LOCK_TALLIES, (categories, nominees))
    cur.execute(MOVE_TALLIES, (categories, nominees, [sign * n for n in counts]))


def _summary(changed: list[tuple[int, int, int]]) -> tuple[int, set[int]]:
    return sum(n for _, _, n in changed), {c for c, _, _ in changed}


def invalidate(
    conn: psycopg.Connection, editor: dict, selection: Selection, reason: str
) -> tuple[int, int, set[int]]:
    """Invalidate the selected counted votes; return (invalidation id, votes, categories)."""
    reason = reason.strip()
    if not reason:
        raise NothingToDo("a reason is required")
    if selection.kind not in COLUMNS or not selection.subject:
        raise NothingToDo("choose an IP, subnet or User-Agent hash")
    extra = sql.SQL("")
    params: dict = {"subject": selection.subject, "from": selection.start, "to": selection.end}
    narrower = {"category_id": selection.category_id, "nominee_id": selection.nominee_id}
    for name, value in narrower.items():
        if value is not None:
            extra += sql.SQL(" AND {} = %({})s").format(sql.Identifier(name), sql.SQL(name))
            params[name] = value
    if selection.new_voters_only:
        extra += sql.SQL(" AND new_voter")
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        (params["id"],) = cur.execute(
            "INSERT INTO fraud_invalidations (editor_id, editor_email, reason, flag_id,"
            " selection, vote_count) VALUES (%s, %s, %s, %s, %s, 0) RETURNING id",
            (editor.get("id"), editor["email"], reason, selection.flag_id,
             Jsonb(selection.as_json())),
        ).fetchone()  # fmt: skip
        query = MARK.format(column=sql.Identifier(COLUMNS[selection.kind]), extra=extra)
        changed = cur.execute(query, params).fetchall()
        _move(cur, changed, -1)
        count, categories = _summary(changed)
        cur.execute(
            "UPDATE fraud_invalidations SET vote_count = %s WHERE id = %s", (count, params["id"])
        )
        detail = {"reason": reason, "votes": count, "selection": selection.as_json()}
        audit.record(conn, editor, "invalidate votes", "fraud", params["id"], detail)
    return params["id"], count, categories


def undo(
    conn: psycopg.Connection, editor: dict, invalidation_id: int, reason: str
) -> tuple[int, set[int]]:
    """Count an invalidation's votes again; return (votes restored, categories)."""
    reason = reason.strip()
    if not reason:
        raise NothingToDo("a reason is required")
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT undone_at FROM fraud_invalidations WHERE id = %s FOR UPDATE",
            (invalidation_id,),
        ).fetchone()
        if row is None or row[0] is not None:
            raise NothingToDo("no such invalidation, or already undone")
        changed = cur.execute(UNMARK, {"id": invalidation_id}).fetchall()
        _move(cur, changed, +1)
        count, categories = _summary(changed)
        cur.execute(
            "UPDATE fraud_invalidations SET undone_at = now(), undone_by = %s, undo_reason = %s"
            " WHERE id = %s",
            (editor["email"], reason, invalidation_id),
        )
        detail = {"reason": reason, "votes": count}
        audit.record(conn, editor, "undo invalidation", "fraud", invalidation_id, detail)
    return count, categories


def recent(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """Invalidations, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM fraud_invalidations ORDER BY created_at DESC, id DESC LIMIT %s",
            (limit,),
        ).fetchall()
