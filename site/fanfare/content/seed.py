"""`fanfare seed-demo`: a believable, fictional "Fan Awards 2026" event."""

from __future__ import annotations

from datetime import timedelta

import click
import psycopg
from flask import Flask, current_app
from flask.cli import with_appcontext

from fanfare.content.catalog import now
from fanfare.content.finals import mark_final
from fanfare.infra import connect, sql

Q = sql.queries("seed")

# (slug, name, description, results_mode, max votes, window relative to now in days, votes)
CATEGORIES = [
    (
        "breakthrough-artist",
        "Breakthrough Artist",
        "The act whose first year made everyone pay attention.",
        "live",
        1,
        (-1, 5),
        False,
    ),
    (
        "song-of-the-year",
        "Song of the Year",
        "The track that was everywhere. Results are revealed when voting closes.",
        "after_close",
        3,
        (-1, 6),
        False,
    ),
    (
        "best-live-performance",
        "Best Live Performance",
        "The night you wish you had been in the crowd.",
        "live",
        1,
        (-9, -1),
        True,
    ),
    (
        "music-video",
        "Music Video of the Year",
        "Direction, choreography and the one shot everyone paused on.",
        "live",
        1,
        (2, 7),
        False,
    ),
]

NOMINEES = {
    "breakthrough-artist": [
        (
            "Nova Reyes",
            "Bedroom pop from Valparaíso",
            "Nova Reyes recorded her first EP on a borrowed laptop between shifts at a bakery."
            "\n\nA year later she was playing to sold-out rooms on three continents.",
        ),
        (
            "The Lantern Kids",
            "Four friends, one van",
            "A garage band from Tampere that "
            "toured in a van with no heating and came home with a festival headline slot.",
        ),
        (
            "Kai Okonkwo",
            "Afrobeats meets jazz",
            "Trained on trumpet, Kai builds songs around "
            "horn lines that get stuck in your head for weeks.",
        ),
        (
            "Mira Sol",
            "Synth-pop with a conscience",
            "Her debut single, about her grandmother's "
            "kitchen, became the most shared song of the spring.",
        ),
        (
            "Juno Park",
            "K-pop soloist",
            "After six years as a trainee, Juno's solo debut topped the charts in its first week.",
        ),
        (
            "Static Bloom",
            "Shoegaze revival",
            "Walls of guitar and whispered vocals: the duo made loud music fashionable again.",
        ),
    ],
    "song-of-the-year": [
        ("Paper Moons", "by Ada Lindqvist", "A piano ballad that turned into a stadium singalong."),
        (
            "Run Red Lights",
            "by Hollow Coast",
            "Three minutes of pure adrenaline and one impossible high note.",
        ),
        ("Saudade FM", "by Lua Ferreira", "Bossa nova for the streaming age."),
        ("Neon Lullaby", "by DJ Orbit", "The late-night dance track that closed every party."),
        (
            "Small Hours",
            "by Theo Grant",
            "A quiet song about night buses that found a huge audience.",
        ),
        (
            "Gold Thread",
            "by SEVEN LIGHTS",
            "A K-pop anthem with a bridge fans learned in eleven languages.",
        ),
    ],
    "best-live-performance": [
        (
            "Hollow Coast at Riverside",
            "Riverside Festival, main stage",
            "Two hours in the rain and nobody left.",
        ),
        (
            "Ada Lindqvist Unplugged",
            "Royal Concert Hall",
            "Just a piano, a cello and a silent, spellbound hall.",
        ),
        (
            "SEVEN LIGHTS World Tour",
            "Final night, Seoul",
            "Forty thousand light sticks changing colour in time.",
        ),
        ("Lua Ferreira Rooftop Set", "São Paulo", "A surprise show announced an hour before."),
        ("DJ Orbit Sunrise Set", "Harbour Beach", "Eight hours, ending as the sun came up."),
        (
            "Theo Grant and Choir",
            "Cathedral Sessions",
            "Three hundred voices joined him for the last song.",
        ),
    ],
    "music-video": [
        ("One Take Wonder", "by The Lantern Kids", "Shot in a single take across a moving train."),
        ("Paper Cranes", "by Mira Sol", "A thousand origami cranes, folded by fans."),
        ("Zero Gravity", "by Juno Park", "Choreography filmed on a real parabolic flight."),
        ("Night Market", "by Kai Okonkwo", "A love letter to Lagos after dark."),
        ("Mirror Maze", "by Static Bloom", "Every frame is a reflection of a reflection."),
        ("Tidal", "by Nova Reyes", "Filmed underwater off the coast of Chile."),
    ],
}


def slugify(text: str) -> str:
    """A URL slug: lower-case ASCII words joined by hyphens."""
    out, dash = [], False
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def seed_demo(conn: psycopg.Connection) -> bool:
    """Insert the demo event unless any event exists; return whether it seeded."""
    if conn.execute(Q.any_event).fetchone():
        return False
    at = now()
    published = at - timedelta(days=30)
    (event_id,) = conn.execute(
        Q.insert_event,
        ("Your votes decide. Live from the arena, 28 November.", at + timedelta(days=5), published),
    ).fetchone()
    for position, (slug, name, desc, mode, quota, (opens, closes), final) in enumerate(CATEGORIES):
        (category_id,) = conn.execute(
            Q.insert_category,
            (event_id, slug, name, desc, position, quota, mode, published),
        ).fetchone()
        (window_id,) = conn.execute(
            Q.insert_window,
            (category_id, at + timedelta(days=opens), at + timedelta(days=closes)),
        ).fetchone()
        for n_position, (n_name, tagline, bio) in enumerate(NOMINEES[slug]):
            conn.execute(
                Q.insert_nominee,
                (category_id, slugify(n_name), n_name, tagline, bio, n_position, published),
            )
        if final:
            _cast_final_votes(conn, category_id, window_id, at + timedelta(days=closes))
            # Long closed and nothing queued for it: counted, with its published root.
            mark_final(conn, window_id, category_id)
    return True


def _cast_final_votes(conn: psycopg.Connection, category_id: int, window_id: int, closed) -> None:
    """Real, counted votes for a closed category, and tallies that agree with them."""
    conn.execute(
        Q.cast_final_votes, {"window": window_id, "closed": closed, "category": category_id}
    )
    conn.execute(Q.tally_counted_votes, (category_id,))


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Seed the demo event if the database has no event yet."""
    with psycopg.connect(
        current_app.config["DATABASE_URL"], **connect.pg_kwargs(current_app.config)
    ) as conn:
        seeded = seed_demo(conn)
    click.echo("seeded the demo event" if seeded else "an event exists already; nothing seeded")


def init_app(app: Flask) -> None:
    """Register the command."""
    app.cli.add_command(seed_demo_command)
