"""The scheduler's transitions job on a real database, and through a real edge."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from edge_http import request, wait_until

from fanfare.edge.transitions import ECHO, changed_keys, keys_between


def ids(conn: psycopg.Connection, slug: str) -> tuple[int, int]:
    """(category id, event id) of a demo category."""
    return conn.execute("SELECT id, event_id FROM categories WHERE slug = %s", (slug,)).fetchone()


def test_a_closing_window_changes_its_category_results_home_and_history(demo):
    at = datetime.now(UTC)
    with psycopg.connect(demo) as conn:
        category, event = ids(conn, "breakthrough-artist")
        conn.execute(
            "UPDATE voting_windows SET closes_at = %s WHERE category_id = %s",
            (at + timedelta(seconds=1), category),
        )
        assert keys_between(conn, at, at + timedelta(seconds=0.5)) == set()
        keys = keys_between(conn, at + timedelta(seconds=0.5), at + timedelta(seconds=1))
    assert keys == {
        "home",
        f"event:{event}",
        f"category:{category}",
        f"results:{category}",
        "history",
    }


def test_an_opening_window_does_not_touch_history(demo):
    at = datetime.now(UTC)
    with psycopg.connect(demo) as conn:
        category, event = ids(conn, "music-video")
        conn.execute(
            "UPDATE voting_windows SET opens_at = %s WHERE category_id = %s",
            (at + timedelta(seconds=1), category),
        )
        keys = keys_between(conn, at, at + timedelta(seconds=2))
    assert keys == {"home", f"event:{event}", f"category:{category}", f"results:{category}"}


def test_a_scheduled_nominee_purges_its_pages_and_the_cached_404(demo):
    at = datetime.now(UTC)
    with psycopg.connect(demo) as conn:
        category, _ = ids(conn, "song-of-the-year")
        (nominee,) = conn.execute(
            "INSERT INTO nominees (category_id, slug, name, published_at)"
            " VALUES (%s, 'late-entry', 'Late Entry', %s) RETURNING id",
            (category, at + timedelta(seconds=1)),
        ).fetchone()
        keys = keys_between(conn, at, at + timedelta(seconds=1))
    # Exactly the pages that list it (the home page lists categories only) and the cached 404.
    assert keys == {
        f"category:{category}",
        f"results:{category}",
        f"nominee:{nominee}",
        "missing",
    }


def test_each_moment_is_purged_again_after_the_echo(demo):
    at = datetime.now(UTC)
    with psycopg.connect(demo) as conn:
        category, _ = ids(conn, "breakthrough-artist")
        conn.execute(
            "UPDATE voting_windows SET closes_at = %s WHERE category_id = %s",
            (at + timedelta(seconds=1), category),
        )
        first = changed_keys(conn, at, at + timedelta(seconds=1))
        later = changed_keys(conn, at + ECHO, at + ECHO + timedelta(seconds=1))
        quiet = changed_keys(conn, at + 3 * ECHO, at + 4 * ECHO)
    assert f"category:{category}" in first and first == later
    assert quiet == set()


def s_maxage(cache_control: str) -> int:
    return int(re.search(r"s-maxage=(\d+)", cache_control).group(1))


@pytest.fixture
def stack(make_stack, demo, redis_url):
    return make_stack(demo, redis_url, "web", "edge", "scheduler")


def test_the_edge_serves_the_closed_state_after_the_window_closes(stack, demo):
    edge = stack.url()
    with psycopg.connect(demo) as conn:
        (closes_at,) = conn.execute(
            "UPDATE voting_windows SET closes_at = now() + interval '5 seconds'"
            " WHERE category_id = (SELECT id FROM categories WHERE slug = 'breakthrough-artist')"
            " RETURNING closes_at"
        ).fetchone()
    page = "/awards/breakthrough-artist"
    before = request(edge + page)
    assert before.status == 200 and "badge-open" in before.body
    assert s_maxage(before.headers["cache-control"]) <= 5
    assert request(edge + page).cache == "HIT"
    history = request(edge + "/history")
    assert "Breakthrough Artist" not in history.body
    assert s_maxage(history.headers["cache-control"]) <= 5

    time.sleep(max(0.0, (closes_at - datetime.now(UTC)).total_seconds()))
    after = wait_until(lambda: "badge-closed" in (a := request(edge + page)).body and a, timeout=2)
    assert "badge-open" not in after.body
    wait_until(lambda: "Breakthrough Artist" in request(edge + "/history").body, timeout=2)


def test_a_scheduled_publish_reaches_the_edge_within_a_second_or_two(stack, demo):
    edge = stack.url()
    page = "/awards/song-of-the-year"  # cached for 300 s: only a purge can show the change
    with psycopg.connect(demo) as conn:
        (published_at,) = conn.execute(
            "INSERT INTO nominees (category_id, slug, name, published_at)"
            " SELECT id, 'late-entry', 'Late Entry', now() + interval '3 seconds'"
            " FROM categories WHERE slug = 'song-of-the-year' RETURNING published_at"
        ).fetchone()
    assert "Late Entry" not in request(edge + page).body
    assert request(edge + "/nominees/late-entry").status == 404
    assert request(edge + page).cache == "HIT"

    time.sleep(max(0.0, (published_at - datetime.now(UTC)).total_seconds()))
    # A softpurge: the first fan after it may get the stale copy once while it refreshes.
    wait_until(lambda: "Late Entry" in request(edge + page).body, timeout=2)
    assert request(edge + "/nominees/late-entry").status == 200
    assert "purging" in stack.log("scheduler").read_text()
