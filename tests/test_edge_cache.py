"""The edge in front of the real web app on a seeded database: caching, purging, staleness."""

from __future__ import annotations

import subprocess

import psycopg
import pytest
from edge_http import purge, request, wait_until

CATEGORY = "/awards/song-of-the-year"  # its window changes in days: a plain 300 s page


@pytest.fixture(scope="module")
def origin(module_stack, module_demo, redis_server):
    """One web app for the module's edges: these tests only read through it."""
    return module_stack(module_demo, redis_server.url, "web")


@pytest.fixture
def stack(make_stack, origin, module_demo, redis_server):
    """A fresh edge for each test, so each starts from an empty cache, in front of origin."""
    return make_stack(
        module_demo,
        redis_server.url,
        "edge",
        FANFARE_WEB_PORT=str(origin.ports["web"]),
        FANFARE_INGEST_PORT=str(origin.ports["ingest"]),
    )


def backend_list(stack) -> str:
    """What Varnish thinks of its backends' health (varnishadm backend.list)."""
    workdir = stack.run_dir / "edge" / "varnish"
    return subprocess.run(
        ["varnishadm", "-n", str(workdir), "backend.list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def category_id(database_url: str, slug: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id FROM categories WHERE slug = %s", (slug,)).fetchone()[0]


def test_second_get_is_a_hit_and_a_post_passes(stack):
    edge = stack.url()
    first = request(edge + CATEGORY)
    assert (first.status, first.cache) == (200, "MISS")
    second = request(edge + CATEGORY)
    assert (second.status, second.cache) == (200, "HIT")
    assert second.body == first.body
    assert "xkey" not in second.headers and "set-cookie" not in second.headers
    assert "age" in second.headers

    posted = request(edge + CATEGORY, "POST", body="x=1")
    assert posted.cache == "PASS"
    assert posted.status == 405  # reached the app, which has no POST there


def test_a_cookie_neither_splits_nor_bypasses_the_cache(stack):
    edge = stack.url()
    request(edge + "/history")
    with_cookie = request(edge + "/history", headers={"Cookie": "session=someone"})
    assert with_cookie.cache == "HIT"
    assert "set-cookie" not in with_cookie.headers


def test_forwarded_host_cannot_poison_the_cached_page(stack):
    edge = stack.url()
    evil = {
        "X-Forwarded-Host": "evil.example",
        "X-Host": "evil.example",
        "Forwarded": "host=evil.example",
    }
    poisoned = request(edge + "/", headers=evil)
    assert poisoned.status == 200 and "evil.example" not in poisoned.body
    victim = request(edge + "/")
    assert victim.cache == "HIT" and "evil.example" not in victim.body


def test_purge_by_key_removes_exactly_the_tagged_objects(stack, module_demo):
    demo = module_demo
    edge = stack.url()
    song = category_id(demo, "song-of-the-year")
    pages = [CATEGORY, "/awards/breakthrough-artist", "/history", "/nominees/paper-moons"]
    for page in pages:
        request(edge + page)
    assert all(request(edge + page).cache == "HIT" for page in pages)

    answer = purge(edge, f"category:{song}")
    assert answer.status == 200
    # the category page, the home page is not cached yet, and the nominee page of that category
    assert answer.headers["x-purged"] == "2"

    assert request(edge + CATEGORY).cache == "MISS"
    assert request(edge + "/nominees/paper-moons").cache == "MISS"
    assert request(edge + "/awards/breakthrough-artist").cache == "HIT"
    assert request(edge + "/history").cache == "HIT"


def test_softpurge_serves_stale_once_then_refreshes(stack, module_demo):
    demo = module_demo  # the rename stays: no other test here reads a nominee's name
    edge = stack.url()
    song = category_id(demo, "song-of-the-year")
    request(edge + CATEGORY)
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE nominees SET name = 'Paper Moons (Remastered)' WHERE slug = 'paper-moons'"
        )

    assert purge(edge, f"category:{song}", soft=True).headers["x-purged"] == "1"
    stale = request(edge + CATEGORY)
    assert stale.status == 200 and stale.cache == "HIT-STALE"
    assert "Paper Moons (Remastered)" not in stale.body

    # The background fetch replaces it: from then on the fresh page is a plain hit.
    fresh = wait_until(
        lambda: (a := request(edge + CATEGORY)).cache == "HIT" and "(Remastered)" in a.body and a,
        timeout=5,
    )
    assert fresh.status == 200


def test_purge_from_outside_the_acl_is_refused(stack):
    edge = stack.url()
    request(edge + "/history")
    refused = purge(edge, "history", source="127.0.0.2")
    assert refused.status == 403
    assert request(edge + "/history").cache == "HIT"
    assert purge(edge, "history").status == 200
    assert request(edge + "/history").cache == "MISS"


def test_metrics_are_only_for_the_operators_network(stack):
    edge = stack.url()
    assert request(edge + "/metrics", source="127.0.0.2").status == 404
    # The web service's own scrape: its request histogram, from every worker.
    assert "fanfare_http_request_duration_seconds" in request(edge + "/metrics").body


def test_with_the_origin_stopped_pages_are_served_stale(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "edge")  # its own web: this test stops it
    edge = stack.url()
    # Pages and the results island and page: all tagged home, history or category:<song>.
    pages = ["/", CATEGORY, "/history", "/nominees/paper-moons"]
    pages += [f"/fragments{CATEGORY}/results", f"{CATEGORY}/results"]
    for page in pages:
        assert request(edge + page).status == 200
    # Killed, not stopped: a graceful stop waits out the edge's keep-alive connections (10 s).
    stack.kill("web")
    # Expire them all: from now on only stale copies exist, and the origin cannot refresh them.
    purge(edge, f"home history category:{category_id(demo, 'song-of-the-year')}", soft=True)

    # Before the health probe notices, the failed fetch falls back to the stale copy ...
    for page in pages:
        answer = request(edge + page)
        assert (answer.status, answer.cache) == (200, "HIT-STALE"), page
    # ... and once it has (probe: 2 of 3 failed, 1 s apart), it is served without trying.
    wait_until(lambda: "sick" in backend_list(stack), timeout=10)
    for _ in range(2):
        for page in pages:
            answer = request(edge + page)
            assert (answer.status, answer.cache) == (200, "HIT-STALE"), page
    assert request(edge + "/never-cached").status == 503
