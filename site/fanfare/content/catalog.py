"""Read queries for the fan pages: only published content, with each category's window."""

from __future__ import annotations

from datetime import UTC, datetime

from fanfare.infra import db, sql
from fanfare.votes.ballot import WindowState, next_transition, window_state

Q = sql.queries("catalog")


def now() -> datetime:
    """The clock every rule is judged by."""
    return datetime.now(UTC)


def with_state(category: dict, at: datetime) -> dict:
    """Add the window state, the next transition and whether results show to a category row.

    The one place this rule lives: fan pages and the editors' preview both use it.
    """
    category["state"] = window_state(category["opens_at"], category["closes_at"], at)
    category["next_transition"] = next_transition(category["opens_at"], category["closes_at"], at)
    category["results_visible"] = category["results_mode"] == "live" or (
        category["state"] is WindowState.CLOSED
    )
    return category


def current_event() -> dict | None:
    """The published event that starts latest: the one the home page is about."""
    with db.connection() as conn:
        return conn.execute(Q.current_event).fetchone()


def categories(event_id: int) -> list[dict]:
    """The event's published categories in display order."""
    at = now()
    with db.connection() as conn:
        rows = conn.execute(
            Q.categories.format(where="AND c.event_id = %s ORDER BY c.position, c.id"), (event_id,)
        ).fetchall()
    return [with_state(row, at) for row in rows]


def category(slug: str) -> dict | None:
    """One published category by slug."""
    with db.connection() as conn:
        row = conn.execute(Q.categories.format(where="AND c.slug = %s"), (slug,)).fetchone()
    return with_state(row, now()) if row else None


def category_by_id(category_id: int) -> dict | None:
    """One published category by id."""
    with db.connection() as conn:
        row = conn.execute(Q.categories.format(where="AND c.id = %s"), (category_id,)).fetchone()
    return with_state(row, now()) if row else None


def nominees(category_id: int) -> list[dict]:
    """The category's published nominees in display order."""
    with db.connection() as conn:
        return conn.execute(
            Q.nominees.format(where="AND n.category_id = %s ORDER BY n.position, n.id"),
            (category_id,),
        ).fetchall()


def nominee(slug: str) -> dict | None:
    """One published nominee by slug."""
    with db.connection() as conn:
        return conn.execute(Q.nominees.format(where="AND n.slug = %s"), (slug,)).fetchone()


def results(category_id: int) -> list[dict]:
    """Counted votes per published nominee, most first, with each one's share in percent."""
    with db.connection() as conn:
        rows = conn.execute(Q.results, (category_id,)).fetchall()
    total = sum(row["votes"] for row in rows)
    for row in rows:
        row["share"] = round(100 * row["votes"] / total, 1) if total else 0.0
    return rows


def winners() -> list[dict]:
    """Every published category whose last window has closed, with its winner."""
    with db.connection() as conn:
        return conn.execute(Q.winners).fetchall()


def next_close() -> datetime | None:
    """When the next window of a published category closes: /history changes then."""
    with db.connection() as conn:
        row = conn.execute(Q.next_close).fetchone()
    return row["closes_at"] if row else None
