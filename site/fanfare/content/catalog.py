"""Read queries for the fan pages: only published content, with each category's window.

Every read that returns texts takes the page's `language` (a Babel code; None for the default
language) and lays that language's published translations over them, field by field
(content/translations.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fanfare.content import tally_proof, translations
from fanfare.infra import db, sql
from fanfare.votes.ballot import WindowState, next_transition, window_state

Q = sql.queries("catalog")


def now() -> datetime:
    """The clock every rule is judged by."""
    return datetime.now(UTC)


def with_state(category: dict, at: datetime) -> dict:
    """Add the window state, the next transition and what the results show to a category row.

    The one place this rule lives: fan pages, the overlay and the editors' preview use it.
    `final`: closed and every vote cast before the close stored (content/finals.py); until
    then `counting`. `settled`: nothing on the results changes by the clock any more, so they
    stop polling and are cached long. on_cue results show once revealed and final.
    """
    state = window_state(category["opens_at"], category["closes_at"], at)
    closed = state is WindowState.CLOSED
    final = closed and category.get("counted_at") is not None
    revealed = category.get("reveal_at") is not None and category["reveal_at"] <= at
    mode = category["results_mode"]
    category["state"] = state
    category["final"] = final
    category["counting"] = closed and not final
    category["results_visible"] = (
        mode == "live" or (mode == "after_close" and closed) or (revealed and final)
    )
    category["settled"] = final and (mode != "on_cue" or revealed)
    moments = [next_transition(category["opens_at"], category["closes_at"], at)]
    if mode == "on_cue" and category.get("reveal_at") and category["reveal_at"] > at:
        moments.append(category["reveal_at"])  # a scheduled reveal changes the page by the clock
    present = [m for m in moments if m is not None]
    category["next_transition"] = min(present) if present else None
    return category


def current_event(language: str | None = None) -> dict | None:
    """The published event that starts latest: the one the home page is about."""
    with db.connection() as conn:
        event = conn.execute(Q.current_event).fetchone()
        if event is not None:
            translations.overlay(conn, "event", [event], language)
    return event


def categories(event_id: int, language: str | None = None) -> list[dict]:
    """The event's published categories in display order."""
    at = now()
    with db.connection() as conn:
        rows = conn.execute(
            Q.categories.format(where="AND c.event_id = %s ORDER BY c.position, c.id"), (event_id,)
        ).fetchall()
        translations.overlay(conn, "category", rows, language)
    return [with_state(row, at) for row in rows]


def category(slug: str, language: str | None = None) -> dict | None:
    """One published category by slug."""
    with db.connection() as conn:
        row = conn.execute(Q.categories.format(where="AND c.slug = %s"), (slug,)).fetchone()
        translations.overlay(conn, "category", [row] if row else [], language)
    return with_state(row, now()) if row else None


def category_by_id(category_id: int, language: str | None = None) -> dict | None:
    """One published category by id."""
    with db.connection() as conn:
        row = conn.execute(Q.categories.format(where="AND c.id = %s"), (category_id,)).fetchone()
        translations.overlay(conn, "category", [row] if row else [], language)
    return with_state(row, now()) if row else None


def nominees(category_id: int, language: str | None = None) -> list[dict]:
    """The category's published nominees in display order."""
    with db.connection() as conn:
        rows = conn.execute(
            Q.nominees.format(where="AND n.category_id = %s ORDER BY n.position, n.id"),
            (category_id,),
        ).fetchall()
        translations.overlay(conn, "nominee", rows, language)
    return rows


def nominee(slug: str, language: str | None = None) -> dict | None:
    """One published nominee by slug."""
    with db.connection() as conn:
        row = conn.execute(Q.nominees.format(where="AND n.slug = %s"), (slug,)).fetchone()
        translations.overlay(conn, "nominee", [row] if row else [], language)
    return row


def results(category_id: int, language: str | None = None) -> list[dict]:
    """Counted votes per published nominee, most first, with each one's share in percent."""
    with db.connection() as conn:
        rows = conn.execute(Q.results, (category_id,)).fetchall()
        translations.overlay(conn, "nominee", rows, language, names={"name": "name"})
    total = sum(row["votes"] for row in rows)
    for row in rows:
        row["share"] = round(100 * row["votes"] / total, 1) if total else 0.0
    return rows


def turnout(category_id: int) -> int:
    """Votes counted so far in a category: shown while the split is hidden, if the editor chose."""
    with db.connection() as conn:
        return conn.execute(Q.turnout, (category_id,)).fetchone()["votes"]


def roots(category_id: int) -> list[dict]:
    """Every Merkle root published for the category, newest first (docs/verify.md)."""
    with db.connection() as conn:
        return tally_proof.roots(conn, category_id)


def winners(language: str | None = None) -> list[dict]:
    """Every published category whose last window has closed: its winner once final and shown."""
    with db.connection() as conn:
        rows = conn.execute(Q.winners).fetchall()
        for kind in ("event", "category", "nominee"):
            names = {"name": f"{kind}_name"}
            translations.overlay(conn, kind, rows, language, id_key=f"{kind}_id", names=names)
    return rows


def next_history_change() -> datetime | None:
    """When /history next changes by the clock: a close, or a scheduled reveal."""
    with db.connection() as conn:
        row = conn.execute(Q.next_history_change).fetchone()
    return row["at"] if row else None
