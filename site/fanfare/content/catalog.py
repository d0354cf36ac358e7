"""Read queries for the fan pages: only published content, with each category's window."""

from __future__ import annotations

from datetime import UTC, datetime

from fanfare.infra import db
from fanfare.votes.ballot import WindowState, next_transition, window_state

# The window a category page is about: the open one, else the next upcoming one,
# else the one that closed last.
CATEGORY_SELECT = """
SELECT c.id, c.event_id, c.slug, c.name, c.description, c.position,
       c.max_votes_per_voter, c.results_mode,
       w.id AS window_id, w.opens_at, w.closes_at
FROM categories c
JOIN events e ON e.id = c.event_id AND e.published_at <= now()
LEFT JOIN LATERAL (
    SELECT id, opens_at, closes_at FROM voting_windows
    WHERE category_id = c.id
    ORDER BY closes_at <= now(),
             CASE WHEN closes_at > now() THEN opens_at END,
             closes_at DESC
    LIMIT 1
) w ON true
WHERE c.published_at <= now()
"""


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
        return conn.execute(
            "SELECT * FROM events WHERE published_at <= now()"
            " ORDER BY starts_at DESC NULLS LAST, id DESC LIMIT 1"
        ).fetchone()


def categories(event_id: int) -> list[dict]:
    """The event's published categories in display order."""
    at = now()
    with db.connection() as conn:
        rows = conn.execute(
            CATEGORY_SELECT + " AND c.event_id = %s ORDER BY c.position, c.id", (event_id,)
        ).fetchall()
    return [with_state(row, at) for row in rows]


def category(slug: str) -> dict | None:
    """One published category by slug."""
    with db.connection() as conn:
        row = conn.execute(CATEGORY_SELECT + " AND c.slug = %s", (slug,)).fetchone()
    return with_state(row, now()) if row else None


def category_by_id(category_id: int) -> dict | None:
    """One published category by id."""
    with db.connection() as conn:
        row = conn.execute(CATEGORY_SELECT + " AND c.id = %s", (category_id,)).fetchone()
    return with_state(row, now()) if row else None


NOMINEE_SELECT = """
SELECT n.id, n.category_id, n.slug, n.name, n.tagline, n.bio, n.position,
       p.digest AS photo_digest, p.width AS photo_width, p.height AS photo_height,
       p.alt AS photo_alt, p.renditions AS photo_renditions
FROM nominees n LEFT JOIN photos p ON p.id = n.photo_id
WHERE n.published_at <= now()
"""


def nominees(category_id: int) -> list[dict]:
    """The category's published nominees in display order."""
    with db.connection() as conn:
        return conn.execute(
            NOMINEE_SELECT + " AND n.category_id = %s ORDER BY n.position, n.id", (category_id,)
        ).fetchall()


def nominee(slug: str) -> dict | None:
    """One published nominee by slug."""
    with db.connection() as conn:
        return conn.execute(NOMINEE_SELECT + " AND n.slug = %s", (slug,)).fetchone()


def results(category_id: int) -> list[dict]:
    """Counted votes per published nominee, most first, with each one's share in percent."""
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT n.id, n.slug, n.name, COALESCE(t.votes, 0) AS votes"
            " FROM nominees n LEFT JOIN tallies t"
            "   ON t.nominee_id = n.id AND t.category_id = n.category_id"
            " WHERE n.category_id = %s AND n.published_at <= now()"
            " ORDER BY votes DESC, n.position, n.id",
            (category_id,),
        ).fetchall()
    total = sum(row["votes"] for row in rows)
    for row in rows:
        row["share"] = round(100 * row["votes"] / total, 1) if total else 0.0
    return rows


def winners() -> list[dict]:
    """Every published category whose last window has closed, with its winner."""
    with db.connection() as conn:
        return conn.execute(
            """
            SELECT e.name AS event_name, e.slug AS event_slug, c.id AS category_id,
                   c.slug AS category_slug, c.name AS category_name, w.closes_at,
                   n.slug AS nominee_slug, n.name AS nominee_name, t.votes
            FROM categories c
            JOIN events e ON e.id = c.event_id AND e.published_at <= now()
            JOIN LATERAL (
                SELECT max(closes_at) AS closes_at FROM voting_windows
                WHERE category_id = c.id HAVING max(closes_at) <= now()
            ) w ON true
            LEFT JOIN LATERAL (
                SELECT nominee_id, votes FROM tallies
                WHERE category_id = c.id AND votes > 0 ORDER BY votes DESC LIMIT 1
            ) t ON true
            LEFT JOIN nominees n ON n.id = t.nominee_id
            WHERE c.published_at <= now()
            ORDER BY w.closes_at DESC, c.position
            """
        ).fetchall()


def next_close() -> datetime | None:
    """When the next window of a published category closes: /history changes then."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT min(w.closes_at) AS closes_at FROM voting_windows w"
            " JOIN categories c ON c.id = w.category_id AND c.published_at <= now()"
            " JOIN events e ON e.id = c.event_id AND e.published_at <= now()"
            " WHERE w.closes_at > now()"
        ).fetchone()
    return row["closes_at"] if row else None
