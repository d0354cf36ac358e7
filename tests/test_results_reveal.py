"""Reveal on cue: hidden until an editor's Reveal (audited, or scheduled), turnout while hidden."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from edge_http import request, wait_until

from fanfare.app import create_web_app
from fanfare.content import reveal
from fanfare.infra import db
from fanfare.web.admin import accounts

pytestmark = pytest.mark.fan

EDITOR, PASSWORD = "cue@example.org", "correct horse battery staple"
SLUG = "best-live-performance"  # closed and counted in the demo
ISLAND = f"/fragments/awards/{SLUG}/results"


def on_cue(database_url: str, *, show_turnout: bool = False) -> int:
    with psycopg.connect(database_url) as conn:
        accounts.create_editor(conn, EDITOR, PASSWORD)
        return conn.execute(
            "UPDATE categories SET results_mode = 'on_cue', show_turnout = %s WHERE slug = %s"
            " RETURNING id",
            (show_turnout, SLUG),
        ).fetchone()[0]


def editor_client(app):
    client = app.test_client()
    client.post("/admin/login", data={"email": EDITOR, "password": PASSWORD})
    return client


@pytest.fixture
def web(demo, redis_url, app_settings):
    def make(**extra):
        app = create_web_app(app_settings(demo, redis_url, **extra))
        apps.append(app)
        return app

    apps: list = []
    yield make
    for app in apps:
        db.close(app)


def test_on_cue_results_stay_hidden_and_keep_polling_until_revealed(web, demo):
    category_id = on_cue(demo)
    app = web()
    fan = app.test_client()

    hidden = fan.get(ISLAND).get_data(as_text=True)
    assert "revealed on the night" in hidden and "data-votes" not in hidden
    assert 'hx-trigger="every 5s"' in hidden and "data-turnout" not in hidden
    assert "s-maxage=2," in fan.get(ISLAND).headers["Cache-Control"]
    assert "revealed on the night" in fan.get("/history").get_data(as_text=True)

    answer = editor_client(app).post(f"/admin/categories/{category_id}/reveal")

    assert answer.status_code == 303 and "done=revealed" in answer.headers["Location"]
    shown = fan.get(ISLAND)
    html = shown.get_data(as_text=True)
    assert "Final results" in html and "data-votes" in html and "hx-trigger" not in html
    assert "s-maxage=86400" in shown.headers["Cache-Control"]
    assert "Winner:" in fan.get("/history").get_data(as_text=True)
    with psycopg.connect(demo) as conn:
        action, email = conn.execute(
            "SELECT action, editor_email FROM audit_log WHERE kind = 'category'"
            " AND target_id = %s ORDER BY id DESC LIMIT 1",
            (category_id,),
        ).fetchone()
    assert (action, email) == ("reveal", EDITOR)


def test_turnout_shows_while_the_split_is_hidden_when_the_editor_chose_it(web, demo):
    on_cue(demo, show_turnout=True)
    with psycopg.connect(demo) as conn:
        (total,) = conn.execute(
            "SELECT sum(votes) FROM tallies t JOIN categories c ON c.id = t.category_id"
            " WHERE c.slug = %s",
            (SLUG,),
        ).fetchone()

    html = web().test_client().get(ISLAND).get_data(as_text=True)

    assert f'data-turnout="{total}"' in html and "data-votes" not in html


def test_only_on_cue_categories_can_be_revealed_and_bad_times_are_refused(web, demo):
    on_cue(demo)
    with psycopg.connect(demo) as conn:
        live_id = conn.execute(
            "SELECT id FROM categories WHERE slug = 'breakthrough-artist'"
        ).fetchone()[0]
        cue_id = conn.execute("SELECT id FROM categories WHERE slug = %s", (SLUG,)).fetchone()[0]
    client = editor_client(web())

    refused = client.post(f"/admin/categories/{live_id}/reveal")
    garbled = client.post(f"/admin/categories/{cue_id}/reveal", data={"reveal_at": "soon"})

    assert refused.status_code == 409 and "on cue" in refused.get_data(as_text=True)
    assert garbled.status_code == 400 and "Enter a date and time" in garbled.get_data(as_text=True)
    with psycopg.connect(demo) as conn:
        assert (
            conn.execute("SELECT count(*) FROM categories WHERE reveal_at IS NOT NULL").fetchone()[
                0
            ]
            == 0
        )


def test_a_scheduled_reveal_shows_by_the_clock_and_the_scheduler_purges_it(web, demo):
    category_id = on_cue(demo)
    app = web()
    at = datetime.now(UTC) + timedelta(seconds=2)
    answer = editor_client(app).post(
        f"/admin/categories/{category_id}/reveal",
        data={"reveal_at": at.strftime("%Y-%m-%dT%H:%M:%S")},
    )
    assert "done=reveal-scheduled" in answer.headers["Location"]
    fan = app.test_client()
    before = fan.get(ISLAND)
    assert "data-votes" not in before.get_data(as_text=True)
    assert (
        "s-maxage=2," in before.headers["Cache-Control"]
        or "s-maxage=1," in before.headers["Cache-Control"]
    )

    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.1)
    assert "data-votes" in fan.get(ISLAND).get_data(as_text=True)
    with psycopg.connect(demo) as conn:
        keys = reveal.due(conn, at - timedelta(seconds=1), at + timedelta(seconds=1))
    assert f"results:{category_id}" in keys and "history" in keys


def test_the_reveal_is_visible_through_the_edge_within_a_second(make_stack, web, demo, redis_url):
    category_id = on_cue(demo)
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    # What each page shows once revealed.
    pages = {
        ISLAND: "data-votes",
        f"/awards/{SLUG}": "data-votes",
        "/history": "Winner:",
        f"/overlay/awards/{SLUG}": "data-votes",
    }
    for page in pages:
        request(edge + page)
        assert request(edge + page).cache == "HIT"  # cached hidden: only a purge can change it
    app = web(EDGE_URLS=edge)

    editor_client(app).post(f"/admin/categories/{category_id}/reveal")
    revealed = time.monotonic()

    for page, shown in pages.items():
        wait_until(lambda p=page, s=shown: s in request(edge + p).body, timeout=1.0, interval=0.05)
    elapsed = time.monotonic() - revealed
    print(f"\nreveal visible on all {len(pages)} pages through the edge after {elapsed:.2f} s")
    assert elapsed < 1.5  # every page, one after the other
