"""Drafts, preview data, publish, unpublish and scheduled publish of events, categories, nominees.

The model: the live row is what fans see once its published_at has passed. Editors never write
the live row directly; they save a draft (one per row, jsonb), and publishing copies the draft
onto the live row in one transaction. A new row is created unpublished (published_at NULL).

Scheduling a row that fans cannot see yet sets a future published_at, so it appears on time even
without the scheduler; scheduling changes to a live row sets the draft's publish_at, and the
scheduler job (`due`, registered in workers/scheduler.py) publishes it at that moment. Every
publish returns exactly the surrogate keys whose cached pages changed; callers purge them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fanfare.content import audit
from fanfare.edge import keys
from fanfare.infra import sql

Q = sql.queries("publishing")
SCHEDULER = {"id": None, "email": "scheduler"}


class PublishError(ValueError):
    """A draft cannot be published as it is; the message says why, for the editor."""


@dataclass(frozen=True)
class Kind:
    """One kind of editable content: its table and the columns a draft may set."""

    name: str
    table: str
    fields: tuple[str, ...]
    times: tuple[str, ...] = ()


KINDS = {
    "event": Kind("event", "events", ("slug", "name", "tagline", "starts_at"), ("starts_at",)),
    "category": Kind(
        "category",
        "categories",
        ("slug", "name", "description", "position", "max_votes_per_voter", "results_mode"),
    ),
    "nominee": Kind(
        "nominee", "nominees", ("slug", "name", "tagline", "bio", "position", "photo_id")
    ),
}
PARENT = {"category": "event_id", "nominee": "category_id"}


def _rows(conn: psycopg.Connection, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Run a query with dict rows, whatever the connection's row factory is."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _one(conn: psycopg.Connection, sql: str, params: tuple | dict = ()) -> dict | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def to_json(data: dict) -> dict:
    """Draft data as JSON: times become ISO strings."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def from_json(kind: str, data: dict) -> dict:
    """Draft data from JSON: ISO strings back to times."""
    out = dict(data)
    for name in KINDS[kind].times:
        if out.get(name):
            out[name] = datetime.fromisoformat(out[name])
    if "windows" in out:
        out["windows"] = [
            {**w, "opens_at": _time(w["opens_at"]), "closes_at": _time(w["closes_at"])}
            for w in out["windows"]
        ]
    return out


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# ---- reading -------------------------------------------------------------------------------


def live(conn: psycopg.Connection, kind: str, target_id: int, *, lock: bool = False) -> dict | None:
    """The live row (whatever its published_at), with a category's windows."""
    query = Q.live_row_locked if lock else Q.live_row
    row = _one(conn, query.format(table=KINDS[kind].table), (target_id,))
    if row is not None and kind == "category":
        row["windows"] = windows(conn, target_id)
    return row


def windows(conn: psycopg.Connection, category_id: int) -> list[dict]:
    """A category's voting windows in time order."""
    return _rows(conn, Q.windows, (category_id,))


def draft(conn: psycopg.Connection, kind: str, target_id: int) -> dict | None:
    """The pending draft of a row: data, publish_at, updated_at; None if there is none."""
    row = _one(conn, Q.draft, (kind, target_id))
    if row is not None:
        row["data"] = from_json(kind, row["data"])
    return row


def working_copy(conn: psycopg.Connection, kind: str, target_id: int) -> dict | None:
    """The live row with the draft laid over it: what the editor sees, and what preview shows."""
    row = live(conn, kind, target_id)
    if row is None:
        return None
    pending = draft(conn, kind, target_id)
    if pending is not None:
        row.update(pending["data"])
    row["draft"] = pending
    return row


def status(row: dict, at: datetime) -> str:
    """draft | scheduled | published, for a live row."""
    if row["published_at"] is None:
        return "draft"
    return "scheduled" if row["published_at"] > at else "published"


def listing(conn: psycopg.Connection, kind: str, where: str = "", params: tuple = ()) -> list:
    """Rows of a kind with their working name and whether a draft is pending."""
    order = "t.starts_at DESC NULLS LAST, t.id DESC" if kind == "event" else "t.position, t.id"
    query = Q.listing.format(table=KINDS[kind].table, where=where, order=order)
    return _rows(conn, query, (kind, *params))


# ---- writing -------------------------------------------------------------------------------


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
            new_id = _one(conn, query, tuple(values))["id"]
            if kind == "category":
                _apply_windows(conn, new_id, data.get("windows", []))
            audit.record(conn, editor, "create", kind, new_id, {"name": data.get("name")})
    except psycopg.errors.UniqueViolation as exc:
        raise PublishError(f"The address “{data.get('slug')}” is taken already.") from exc
    return new_id


def save_draft(conn: psycopg.Connection, kind: str, target_id: int, data: dict, editor: dict):
    """Store the pending draft of a row (fans see nothing of it); keeps any schedule."""
    current = live(conn, kind, target_id) or {}
    changed = sorted(f for f in data if f != "windows" and data[f] != current.get(f))
    if "windows" in data and _window_times(data["windows"]) != _window_times(
        current.get("windows", [])
    ):
        changed.append("windows")
    conn.execute(Q.save_draft, (kind, target_id, Jsonb(to_json(data)), editor["id"]))
    audit.record(conn, editor, "save draft", kind, target_id, {"fields": changed})


def _window_times(windows: list[dict]) -> list[tuple[datetime, datetime]]:
    return [(_time(w["opens_at"]), _time(w["closes_at"])) for w in windows]


def discard(conn: psycopg.Connection, kind: str, target_id: int, editor: dict) -> None:
    """Throw the pending draft away."""
    conn.execute(Q.delete_draft, (kind, target_id))
    audit.record(conn, editor, "discard draft", kind, target_id)


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
    return _one(conn, "SELECT now() AS now")["now"]


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
        if _one(conn, Q.window_has_votes, (gone,)):
            raise PublishError("A voting window that already has votes cannot be removed.")
        conn.execute(Q.delete_window, (gone,))
        changed = True
    for w in wanted:
        opens, closes = _time(w["opens_at"]), _time(w["closes_at"])
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
        ids = _rows(conn, Q.event_categories, (row["id"],))
        categories = [c["id"] for c in ids]
    return keys.content_changed(kind, row, event_category_ids=categories, **change)


# ---- the scheduler job ---------------------------------------------------------------------


def due(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """Scheduler job: publish the drafts that are due; return the keys to purge.

    Rows whose own published_at passes appear by the clock; edge/transitions.py purges those.
    """
    changed: set[str] = set()
    for pending in _rows(conn, Q.due_drafts, (now,)):
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
