"""Read queries for the fan pages: only published content, with each category's window."""

from __future__ import annotations

from datetime import UTC, datetime

from fanfare.content import tally_proof
from fanfare.infra import db
from fanfare.votes.ballot import WindowState, next_transition, window_state

# The window a category page is about: the open one, else the next upcoming one,
# else the one that closed last.
CATEGORY_SELECT = """
SELECT c.id, c.event_id, c.slug, c.name, c.description, c.position,
       c.max_votes_per_voter, c.results_mode, c.reveal_at, c.show_turnout,
       w.id AS window_id, w.opens_at, w.closes_at, f.counted_at
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
LEFT JOIN window_finals f ON f.window_id = w.id
WHERE c.published_at <= now()
"""


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


def turnout(category_id: int) -> int:
    """Votes counted so far in a category: shown while the split is hidden, if the editor chose."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT COALESCE(sum(votes), 0)::bigint AS votes FROM tallies WHERE category_id = %s",
            (category_id,),
        ).fetchone()
    return row["votes"]


def roots(category_id: int) -> list[dict]:
    """Every Merkle root published for the category, newest first (docs/verify.md)."""
    with db.connection() as conn:
        return tally_proof.roots(conn, category_id)


def winners() -> list[dict]:
    """Every published category whose last window has closed: its winner once final and shown.

    `final` is false while the close is still being counted; an on_cue category shows no
    winner before its reveal.
    """
    with db.connection() as conn:
        return conn.execute(
            """
            SELECT e.name AS event_name, e.slug AS event_slug, c.id AS category_id,
                   c.slug AS category_slug, c.name AS category_name, w.closes_at,
                   f.window_id IS NOT NULL AS final,
                   c.results_mode <> 'on_cue' OR c.reveal_at <= now() AS shown,
                   n.slug AS nominee_slug, n.name AS nominee_name, t.votes
            FROM categories c
            JOIN events e ON e.id = c.event_id AND e.published_at <= now()
            JOIN LATERAL (
                SELECT id, closes_at FROM voting_windows
                WHERE category_id = c.id ORDER BY closes_at DESC LIMIT 1
            ) w ON w.closes_at <= now()
            LEFT JOIN window_finals f ON f.window_id = w.id
            LEFT JOIN LATERAL (
                SELECT nominee_id, votes FROM tallies
                WHERE category_id = c.id AND votes > 0 ORDER BY votes DESC LIMIT 1
            ) t ON true
            LEFT JOIN nominees n ON n.id = t.nominee_id
            WHERE c.published_at <= now()
            ORDER BY w.closes_at DESC, c.position
            """
        ).fetchall()


def next_history_change() -> datetime | None:
    """When /history next changes by the clock: a close, or a scheduled reveal."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT least("
            " (SELECT min(w.closes_at) FROM voting_windows w"
            "  JOIN categories c ON c.id = w.category_id AND c.published_at <= now()"
            "  JOIN events e ON e.id = c.event_id AND e.published_at <= now()"
            "  WHERE w.closes_at > now()),"
            " (SELECT min(reveal_at) FROM categories"
            "  WHERE results_mode = 'on_cue' AND reveal_at > now())) AS at"
        ).fetchone()
    return row["at"] if row else None
