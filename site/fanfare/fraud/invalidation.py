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
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from fanfare.content import audit, tally_proof
from fanfare.infra import sql

# The signal columns a selection may name; nothing else reaches the SQL as an identifier.
COLUMNS = {"ip": "ip_hash", "subnet": "subnet_hash", "ua": "ua_hash"}
Q = sql.queries("fraud")
# Narrowing clauses mark_votes may take, fixed strings only.
NARROW = {
    "category_id": " AND category_id = %(category_id)s",
    "nominee_id": " AND nominee_id = %(nominee_id)s",
}


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
        row = cur.execute(Q.flag_selection, (flag_id,)).fetchone()
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
    cur.execute(Q.lock_tallies, (categories, nominees))
    cur.execute(Q.move_tallies, (categories, nominees, [sign * n for n in counts]))


def _summary(changed: list[tuple[int, int, int]]) -> tuple[int, set[int]]:
    return sum(n for _, _, n in changed), {c for c, _, _ in changed}


def _recommit(conn: psycopg.Connection, categories: set[int], reason: str) -> None:
    """A category already final (it has a published root) gets a new root beside the old one,
    in the same transaction, so fans' proofs always check against what is counted now."""
    for category_id in sorted(categories):
        if tally_proof.roots(conn, category_id):
            tally_proof.publish_root(conn, category_id, reason)


def invalidate(
    conn: psycopg.Connection, editor: dict, selection: Selection, reason: str
) -> tuple[int, int, set[int]]:
    """Invalidate the selected counted votes; return (invalidation id, votes, categories)."""
    reason = reason.strip()
    if not reason:
        raise NothingToDo("a reason is required")
    if selection.kind not in COLUMNS or not selection.subject:
        raise NothingToDo("choose an IP, subnet or User-Agent hash")
    params: dict = {"subject": selection.subject, "from": selection.start, "to": selection.end}
    params |= {"category_id": selection.category_id, "nominee_id": selection.nominee_id}
    extra = "".join(clause for name, clause in NARROW.items() if params[name] is not None)
    if selection.new_voters_only:
        extra += " AND new_voter"
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        (params["id"],) = cur.execute(
            Q.insert_invalidation,
            (editor.get("id"), editor["email"], reason, selection.flag_id,
             Jsonb(selection.as_json())),
        ).fetchone()  # fmt: skip
        query = Q.mark_votes.format(column=COLUMNS[selection.kind], extra=extra)
        changed = cur.execute(query, params).fetchall()
        _move(cur, changed, -1)
        count, categories = _summary(changed)
        cur.execute(Q.set_invalidation_count, (count, params["id"]))
        _recommit(conn, categories, f"invalidated: {reason}")
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
        row = cur.execute(Q.invalidation_for_undo, (invalidation_id,)).fetchone()
        if row is None or row[0] is not None:
            raise NothingToDo("no such invalidation, or already undone")
        changed = cur.execute(Q.unmark_votes, {"id": invalidation_id}).fetchall()
        _move(cur, changed, +1)
        count, categories = _summary(changed)
        cur.execute(Q.mark_undone, (editor["email"], reason, invalidation_id))
        _recommit(conn, categories, f"invalidation undone: {reason}")
        detail = {"reason": reason, "votes": count}
        audit.record(conn, editor, "undo invalidation", "fraud", invalidation_id, detail)
    return count, categories


def recent(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """Invalidations, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.recent_invalidations, (limit,)).fetchall()
