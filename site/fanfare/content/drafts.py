"""Editable content and its drafts: the kinds, the live rows, and the one pending draft per row.

The model: the live row is what fans see once its published_at has passed. Editors never write
the live row directly; they save a draft (one per row, jsonb), and publishing (publishing.py)
copies the draft onto the live row in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from fanfare.content import audit
from fanfare.infra import sql
from fanfare.infra.sql import one, rows

Q = sql.queries("publishing")


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
        (
            "slug",
            "name",
            "description",
            "position",
            "max_votes_per_voter",
            "results_mode",
            "show_turnout",
        ),  # fmt: skip
    ),
    "nominee": Kind(
        "nominee", "nominees", ("slug", "name", "tagline", "bio", "position", "photo_id")
    ),
}
PARENT = {"category": "event_id", "nominee": "category_id"}


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
            {**w, "opens_at": parse_time(w["opens_at"]), "closes_at": parse_time(w["closes_at"])}
            for w in out["windows"]
        ]
    return out


def parse_time(value: str | datetime) -> datetime:
    """A time from a draft (an ISO string) or a form (already a datetime)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# ---- reading -------------------------------------------------------------------------------


def live(conn: psycopg.Connection, kind: str, target_id: int, *, lock: bool = False) -> dict | None:
    """The live row (whatever its published_at), with a category's windows."""
    query = Q.live_row_locked if lock else Q.live_row
    row = one(conn, query.format(table=KINDS[kind].table), (target_id,))
    if row is not None and kind == "category":
        row["windows"] = windows(conn, target_id)
    return row


def windows(conn: psycopg.Connection, category_id: int) -> list[dict]:
    """A category's voting windows in time order."""
    return rows(conn, Q.windows, (category_id,))


def draft(conn: psycopg.Connection, kind: str, target_id: int) -> dict | None:
    """The pending draft of a row: data, publish_at, updated_at; None if there is none."""
    row = one(conn, Q.draft, (kind, target_id))
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
    return rows(conn, query, (kind, *params))


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
    return [(parse_time(w["opens_at"]), parse_time(w["closes_at"])) for w in windows]


def discard(conn: psycopg.Connection, kind: str, target_id: int, editor: dict) -> None:
    """Throw the pending draft away."""
    conn.execute(Q.delete_draft, (kind, target_id))
    audit.record(conn, editor, "discard draft", kind, target_id)
