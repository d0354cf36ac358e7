"""Editors' translations of content texts: drafts, publishing, and what fans read.

A translation belongs to one event, category or nominee and one language, and holds only the
texts of FIELDS an editor translated; every missing or empty field falls back, on its own, to
the row's default-language text. It is edited like the row itself (drafts.py, publishing.py):
saving writes a draft that fans never see, publishing copies it onto the published texts in
one transaction with its audit entry, a scheduled publish is left to the scheduler (`due`), and
each publish returns exactly that language's surrogate keys (edge/keys.py) for the caller to
purge after COMMIT. Framework-free: the scheduler runs it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from fanfare.content import audit
from fanfare.content.drafts import PublishError, live
from fanfare.edge import keys
from fanfare.infra import sql
from fanfare.infra.sql import one, rows

Q = sql.queries("translations")
SCHEDULER = {"id": None, "email": "scheduler"}
# The translatable texts of each kind; slugs, positions and settings are the same in every language.
FIELDS = {
    "event": ("name", "tagline"),
    "category": ("name", "description"),
    "nominee": ("name", "tagline", "bio"),
}


# ---- reading, for the editor area -------------------------------------------------------------


def get(conn: psycopg.Connection, kind: str, target_id: int, language: str) -> dict | None:
    """A row's translation into a language (texts, draft, publish_at, ...), or None."""
    return one(conn, Q.one, (kind, target_id, language))


def of_row(conn: psycopg.Connection, kind: str, target_id: int) -> dict[str, dict]:
    """Every translation of a row, by language."""
    return {t["language"]: t for t in rows(conn, Q.of_row, (kind, target_id))}


# ---- editing ---------------------------------------------------------------------------------


def save_draft(
    conn: psycopg.Connection, kind: str, target_id: int, language: str, texts: dict, editor: dict
) -> None:
    """Store the pending draft of a translation (fans see nothing of it); keeps any schedule."""
    texts = {f: texts[f] for f in FIELDS[kind] if texts.get(f)}
    current = get(conn, kind, target_id, language)
    published = (current or {}).get("texts") or {}
    changed = sorted(f for f in FIELDS[kind] if texts.get(f, "") != published.get(f, ""))
    conn.execute(Q.save_draft, (kind, target_id, language, Jsonb(texts), editor["id"]))
    detail = {"language": language, "fields": changed}
    audit.record(conn, editor, "save translation draft", kind, target_id, detail)


def discard(
    conn: psycopg.Connection, kind: str, target_id: int, language: str, editor: dict
) -> None:
    """Throw the pending draft away; the published translation stays."""
    conn.execute(Q.discard_draft, (kind, target_id, language))
    detail = {"language": language}
    audit.record(conn, editor, "discard translation draft", kind, target_id, detail)


def publish(
    conn: psycopg.Connection,
    kind: str,
    target_id: int,
    language: str,
    editor: dict,
    at: datetime | None = None,
) -> set[str]:
    """Publish the draft now (at=None) or schedule it for `at`; return the keys to purge now."""
    with conn.transaction():
        row, translation = _locked(conn, kind, target_id, language)
        if translation is None or translation["draft"] is None:
            raise PublishError("There are no unpublished changes to this translation.")
        if at is not None:
            conn.execute(Q.schedule, (at, kind, target_id, language))
            detail = {"language": language, "at": at.isoformat()}
            audit.record(conn, editor, "schedule translation", kind, target_id, detail)
            return set()
        before, after = translation["texts"] or {}, translation["draft"]
        changed = sorted(f for f in FIELDS[kind] if before.get(f, "") != after.get(f, ""))
        conn.execute(Q.publish, (kind, target_id, language))
        detail = {"language": language, "fields": changed}
        audit.record(conn, editor, "publish translation", kind, target_id, detail)
        return _purge_keys(conn, kind, row, language, changed)


def unpublish(
    conn: psycopg.Connection, kind: str, target_id: int, language: str, editor: dict
) -> set[str]:
    """Withdraw the published translation (its draft stays); return the keys to purge."""
    with conn.transaction():
        row, translation = _locked(conn, kind, target_id, language)
        if translation is None or translation["texts"] is None:
            raise PublishError("This translation is not published.")
        conn.execute(Q.unpublish, (kind, target_id, language))
        conn.execute(Q.unschedule, (kind, target_id, language))
        audit.record(conn, editor, "unpublish translation", kind, target_id, {"language": language})
        return _purge_keys(conn, kind, row, language, sorted(translation["texts"]))


def _locked(
    conn: psycopg.Connection, kind: str, target_id: int, language: str
) -> tuple[dict, dict | None]:
    """The live row and its translation in this language, both locked for the transaction."""
    row = live(conn, kind, target_id, lock=True)
    translation = one(conn, Q.one_locked, (kind, target_id, language))
    if row is None:
        raise PublishError("That item does not exist any more.")
    return row, translation


def _purge_keys(
    conn: psycopg.Connection, kind: str, row: dict, language: str, changed: list[str]
) -> set[str]:
    """That language's copies of the pages that show the row; none while fans cannot see it."""
    now = one(conn, "SELECT now() AS now")["now"]
    if not changed or row["published_at"] is None or row["published_at"] > now:
        return set()
    shown = keys.content_changed(kind, row, renamed="name" in changed)
    return keys.translation_changed(shown, language)


# ---- the scheduler job -----------------------------------------------------------------------


def due(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
    """Scheduler job: publish the translation drafts that are due; return the keys to purge."""
    changed: set[str] = set()
    for pending in rows(conn, Q.due, (now,)):
        kind, target_id, language = pending["kind"], pending["target_id"], pending["language"]
        try:
            changed |= publish(conn, kind, target_id, language, SCHEDULER)
        except PublishError as exc:
            # Leave it for an editor to fix, and stop retrying it every tick.
            conn.execute(Q.unschedule, (kind, target_id, language))
            detail = {"language": language, "reason": str(exc)}
            audit.record(conn, SCHEDULER, "scheduled publish failed", kind, target_id, detail)
    return changed


# ---- reading, for the fan pages --------------------------------------------------------------


def overlay(
    conn: psycopg.Connection,
    kind: str,
    found: Iterable[dict],
    language: str | None,
    *,
    id_key: str = "id",
    names: dict[str, str] | None = None,
) -> None:
    """Lay one language's published texts over fan-page rows, field by field, in place.

    `language` None is the default language: the rows are its texts already.
    `names` maps a translated field to the row's column where it differs ("name" →
    "nominee_name" in the history rows); a field the translation lacks keeps the row's text.
    """
    found = [r for r in found if r.get(id_key) is not None]
    if not language or not found:
        return
    columns = names or {f: f for f in FIELDS[kind]}
    ids = sorted({r[id_key] for r in found})
    texts = {t["target_id"]: t["texts"] for t in rows(conn, Q.published_for, (language, kind, ids))}
    for r in found:
        translated = texts.get(r[id_key]) or {}
        for field, column in columns.items():
            if translated.get(field):
                r[column] = translated[field]
