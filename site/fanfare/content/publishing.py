"""Create, publish, unpublish and scheduled publish of events, categories and nominees.

A new row is created unpublished (published_at NULL); publishing copies its draft (drafts.py)
onto the live row in one transaction.

Scheduling a row that fans cannot see yet sets a future published_at, so it appears on time even
without the scheduler; scheduling changes to a live row sets the draft's publish_at, and the
scheduler job (`due`, registered in workers/scheduler.py) publishes it at that moment. Every
publish returns exactly the surrogate keys whose cached pages changed; callers purge them.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from fanfare.content import audit
from fanfare.content.drafts import KINDS, PARENT, PublishError, draft, live, parse_time, windows
from fanfare.edge import keys
from fanfare.infra import sql
from fanfare.infra.sql import one, rows

Q = sql.queries("publishing")
SCHEDULER = {"id": None, "email": "scheduler"}


def create(conn: psycopg.Connection, kind: str, data: dict, editor: dict, parent_id=None) -> int:
    """Insert a new, unpublished row from validated data and return its id."""
    spec = KINDS[kind]
    columns = [f for f in spec.fields if f in data]
    values = [data[f] for f in columns]
    if kind in PARENT:
        columns.append(PARENT[kind])
        values.append(parent_id)
    query = Q.insert_row.format(
        table=spec.table, columns=", ".join(columns), values=", ".join(["%s"] * len(columns))
    )
    try:
        with conn.transaction():
            new_id = one(conn, query, tuple(values))["id"]
            if kind == "category":
                _apply_windows(conn, new_id, data.get("windows", []))
            audit.record(conn, editor, "create", kind, new_id, {"name": data.get("name")})
    except psycopg.errors.UniqueViolation as exc:
        raise PublishError(f"The address “{data.get('slug')}” is taken already.") from exc
    return new_id


def publish(
    conn: psycopg.Connection,
    kind: str,
    target_id: int,
    editor: dict,
    at: datetime | None = None,
) -> set[str]:
    """Publish now (at=None) or schedule for `at`; return the keys to purge now."""
    with conn.transaction():
        row = live(conn, kind, target_id, lock=True)
        if row is None:
            raise PublishError("That item does not exist any more.")
        now = _now(conn)
        visible = row["published_at"] is not None and row["published_at"] <= now
        if at is not None and at > now:
            if visible:
                # A live row keeps showing its current version until the scheduler publishes.
                updated = conn.execute(Q.schedule_draft, (at, kind, target_id))
                if updated.rowcount == 0:
                    raise PublishError("There are no unpublished changes to schedule.")
            else:
                _apply_draft(conn, kind, row)
                conn.execute(Q.schedule_row.format(table=KINDS[kind].table), (at, target_id))
            audit.record(conn, editor, "schedule", kind, target_id, {"at": at.isoformat()})
            return set()
        changed = _apply_draft(conn, kind, row)
        if not visible:
            conn.execute(Q.publish_row.format(table=KINDS[kind].table), (target_id,))
        audit.record(conn, editor, "publish", kind, target_id, {"fields": sorted(changed)})
        fresh = live(conn, kind, target_id)
        return affected_keys(
            conn,
            kind,
            fresh,
            appeared=not visible,
            moved="slug" in changed,
            renamed="name" in changed,
        )


def unpublish(conn: psycopg.Connection, kind: str, target_id: int, editor: dict) -> set[str]:
    """Hide a row from fans (its draft stays); return the keys to purge."""
    with conn.transaction():
        row = live(conn, kind, target_id, lock=True)
        if row is None:
            raise PublishError("That item does not exist any more.")
        was_visible = row["published_at"] is not None and row["published_at"] <= _now(conn)
        conn.execute(Q.unpublish_row.format(table=KINDS[kind].table), (target_id,))
        conn.execute(Q.unschedule_draft, (kind, target_id))
        audit.record(conn, editor, "unpublish", kind, target_id)
        return affected_keys(conn, kind, row, disappeared=True) if was_visible else set()


def _now(conn: psycopg.Connection) -> datetime:
    """The database's clock, the one fans' queries compare published_at with."""
    return one(conn, "SELECT now() AS now")["now"]


def _apply_draft(conn: psycopg.Connection, kind: str, row: dict) -> dict:
    """Copy the draft onto the live row and delete it; return the fields that changed."""
    pending = draft(conn, kind, row["id"])
    if pending is None:
        return {}
    data = pending["data"]
    spec = KINDS[kind]
    changed = {f: data[f] for f in spec.fields if f in data and data[f] != row.get(f)}
    if changed:
        assignments = ", ".join(f"{f} = %s" for f in changed)
        try:
            with conn.transaction():
                conn.execute(
                    Q.update_row.format(table=spec.table, assignments=assignments),
                    (*changed.values(), row["id"]),
                )
        except psycopg.errors.UniqueViolation as exc:
            raise PublishError(f"The address “{data.get('slug')}” is taken already.") from exc
    if kind == "category" and "windows" in data:
        if _apply_windows(conn, row["id"], data["windows"]):
            changed["windows"] = data["windows"]
    conn.execute(Q.delete_draft, (kind, row["id"]))
    return changed


def _apply_windows(conn: psycopg.Connection, category_id: int, wanted: list[dict]) -> bool:
    """Make a category's windows match `wanted` (rows with an id are updated); True if changed."""
    current = {w["id"]: w for w in windows(conn, category_id)}
    keep = {w["id"] for w in wanted if w.get("id") in current}
    changed = False
    for gone in set(current) - keep:
        if one(conn, Q.window_has_votes, (gone,)):
            raise PublishError("A voting window that already has votes cannot be removed.")
        conn.execute(Q.delete_window, (gone,))
        changed = True
    for w in wanted:
        opens, closes = parse_time(w["opens_at"]), parse_time(w["closes_at"])
        old = current.get(w.get("id"))
        if old is None:
            conn.execute(Q.insert_window, (category_id, opens, closes))
            changed = True
        elif (old["opens_at"], old["closes_at"]) != (opens, closes):
            conn.execute(Q.update_window, (opens, closes, old["id"]))
            changed = True
    return changed


# ---- what to purge -------------------------------------------------------------------------


def affected_keys(conn: psycopg.Connection, kind: str, row: dict, **change: bool) -> set[str]:
    """The surrogate keys of every cached page that shows this row (edge/keys.py decides)."""
    categories: list[int] = []
    if kind == "event" and (change.get("appeared") or change.get("disappeared")):
        ids = rows(conn, Q.event_categories, (row["id"],))
        categories = [c["id"] for c in ids]
    return keys.content_changed(kind, row, event_category_ids=categories, **change)


# ---- the scheduler job ---------------------------------------------------------------------


def due(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """Scheduler job: publish the drafts that are due; return the keys to purge.

    Rows whose own published_at passes appear by the clock; edge/transitions.py purges those.
    """
    changed: set[str] = set()
    for pending in rows(conn, Q.due_drafts, (now,)):
        try:
            changed |= publish(conn, pending["kind"], pending["target_id"], SCHEDULER)
        except PublishError as exc:
            # Leave it for an editor to fix, and stop retrying it every tick.
            conn.execute(Q.unschedule_draft, (pending["kind"], pending["target_id"]))
            audit.record(
                conn, SCHEDULER, "scheduled publish failed", pending["kind"],
                pending["target_id"], {"reason": str(exc)},
            )  # fmt: skip
    return changed
