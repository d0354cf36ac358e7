"""The results island, its no-JS page and the vote form on the category page (web app)."""

from __future__ import annotations

import re

import psycopg
import pytest

pytestmark = pytest.mark.fan


@pytest.fixture(autouse=True)
def _seeded(demo: str) -> str:
    """Every test here reads the demo event (the client's app shares the database)."""
    return demo


def add_tally(database_url: str, nominee_slug: str, votes: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO tallies (category_id, nominee_id, votes)"
            " SELECT category_id, id, %s FROM nominees WHERE slug = %s",
            (votes, nominee_slug),
        )


def category_id(database_url: str, slug: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id FROM categories WHERE slug = %s", (slug,)).fetchone()[0]


def test_live_island_polls_itself_and_is_cacheable_for_seconds(client, demo):
    add_tally(demo, "kai-okonkwo", 3)
    add_tally(demo, "mira-sol", 1)
    url = "/fragments/awards/breakthrough-artist/results"

    response = client.get(url)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith('<section id="results" class="results"')
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 5s"' in html
    assert 'hx-swap="outerHTML"' in html
    assert 'data-nominee="kai-okonkwo" data-votes="3"' in html
    assert 'data-nominee="mira-sol" data-votes="1"' in html
    assert "75.0%" in html and "<html" not in html
    assert response.headers["Cache-Control"].startswith("public, max-age=2, s-maxage=2,")
    assert f"results:{category_id(demo, 'breakthrough-artist')}" in response.headers["xkey"]
    assert "Set-Cookie" not in response.headers


def test_unchanged_results_answer_304(client, demo):
    url = "/fragments/awards/breakthrough-artist/results"
    etag = client.get(url).headers["ETag"]

    again = client.get(url, headers={"If-None-Match": etag})

    assert again.status_code == 304
    add_tally(demo, "nova-reyes", 1)
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_final_results_come_back_without_a_trigger(client):
    html = client.get("/fragments/awards/best-live-performance/results").get_data(as_text=True)

    assert "Final results" in html
    assert "hx-trigger" not in html and "hx-get" not in html
    assert re.search(r'data-nominee="[a-z0-9-]+" data-votes="[1-9]\d*"', html)


def test_hidden_results_say_they_come_after_the_close(client, demo):
    add_tally(demo, "paper-moons", 5)

    html = client.get("/fragments/awards/song-of-the-year/results").get_data(as_text=True)

    assert "Results after the vote closes" in html
    assert "data-votes" not in html
    assert 'hx-trigger="every 5s"' in html  # it keeps polling, to reveal them when final


def test_results_page_works_without_javascript(client, demo):
    add_tally(demo, "kai-okonkwo", 2)

    response = client.get("/awards/breakthrough-artist/results")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Breakthrough Artist</h1>" in html
    assert 'data-nominee="kai-okonkwo" data-votes="2"' in html
    assert "Refresh results" in html


def test_unknown_category_results_are_404(client):
    assert client.get("/fragments/awards/nope/results").status_code == 404
    assert client.get("/awards/nope/results").status_code == 404


def test_open_category_page_has_the_vote_form_and_the_island(client, demo):
    html = client.get("/awards/breakthrough-artist").get_data(as_text=True)

    form = re.search(r'<form class="vote-form[^"]*" method="post" action="/votes"[^>]*>', html)
    assert form and 'hx-post="/votes"' in form.group(0)
    cid = category_id(demo, "breakthrough-artist")
    assert f'<input type="hidden" name="category" value="{cid}">' in html
    assert html.count('type="radio" name="nominee"') == 6
    assert "<span>Nova Reyes</span></label>" in html
    assert '<button type="submit">Vote</button>' in html
    assert '<section id="results" class="results"' in html


def test_closed_category_page_has_no_vote_form(client):
    html = client.get("/awards/best-live-performance").get_data(as_text=True)

    assert "vote-form" not in html
    assert "Final results" in html
