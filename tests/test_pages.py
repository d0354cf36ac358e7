"""Fan pages render from PostgreSQL, are cacheable by policy, and set no cookies."""

from __future__ import annotations

import re

import psycopg
import pytest

pytestmark = pytest.mark.usefixtures("demo")


def test_home_lists_every_category_with_its_state(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Fan Awards 2026" in html
    for name in (
        "Breakthrough Artist",
        "Song of the Year",
        "Best Live Performance",
        "Music Video of the Year",
    ):
        assert name in html
    assert "Voting open" in html and "Closed" in html and "Opens soon" in html


def test_fan_pages_are_public_tagged_and_cookieless(client):
    for path in ("/", "/awards/breakthrough-artist", "/nominees/nova-reyes", "/history"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        assert "stale-if-error=86400" in response.headers["Cache-Control"]
        assert response.headers["xkey"]
        assert response.headers["ETag"]
        assert "Set-Cookie" not in response.headers


def test_category_page_shows_nominees_and_is_tagged_by_them(client):
    response = client.get("/awards/breakthrough-artist")
    html = response.get_data(as_text=True)
    assert html.count('class="card nominee"') == 6
    keys = response.headers["xkey"].split()
    assert keys[0].startswith("category:")
    assert keys[1] == "results:" + keys[0].removeprefix("category:")  # it embeds the island
    assert sum(key.startswith("nominee:") for key in keys) == 6


def test_s_maxage_is_capped_by_the_next_window_transition(client, demo):
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE voting_windows SET closes_at = now() + interval '5 seconds'"
            " WHERE category_id = (SELECT id FROM categories WHERE slug = 'breakthrough-artist')"
        )
    cache_control = client.get("/awards/breakthrough-artist").headers["Cache-Control"]
    s_maxage = int(re.search(r"s-maxage=(\d+)", cache_control).group(1))
    max_age = int(re.search(r"max-age=(\d+)", cache_control).group(1))
    assert 0 <= s_maxage <= 5 and max_age <= 5
    assert "stale-while-revalidate=0" in cache_control


def test_etag_gives_304(client):
    etag = client.get("/history").headers["ETag"]
    again = client.get("/history", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_history_shows_the_closed_category_winner(client, demo):
    with psycopg.connect(demo) as conn:
        (winner,) = conn.execute(
            "SELECT n.name FROM tallies t JOIN nominees n ON n.id = t.nominee_id"
            " JOIN categories c ON c.id = t.category_id"
            " WHERE c.slug = 'best-live-performance' ORDER BY t.votes DESC LIMIT 1"
        ).fetchone()
    html = client.get("/history").get_data(as_text=True)
    assert "Best Live Performance" in html
    assert 'Winner: <a href="/nominees/' in html and winner in html
    assert "Breakthrough Artist" not in html  # still open


def test_unknown_pages_are_small_friendly_and_briefly_cacheable(client):
    for path in ("/awards/nope", "/nominees/nope", "/nowhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Page not found" in response.get_data(as_text=True)
        assert "max-age=10" in response.headers["Cache-Control"]
        assert len(response.get_data()) < 4096


def test_unpublished_content_is_invisible(client, demo):
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE nominees SET published_at = now() + interval '1 day' WHERE slug = 'nova-reyes'"
        )
    assert client.get("/nominees/nova-reyes").status_code == 404
    assert "Nova Reyes" not in client.get("/awards/breakthrough-artist").get_data(as_text=True)


def test_security_headers_on_every_response(client):
    for path in ("/", "/nowhere", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
        assert "Strict-Transport-Security" not in headers  # development


def test_htmx_is_loaded_deferred_and_configured_without_eval(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<script src="/static/vendor/htmx\.min\.[0-9a-f]{12}\.js" defer>', html)
    assert '"allowEval":false' in html
    assert "<script>" not in html  # no inline script anywhere
