"""Through a real edge, web, ingest and writer: a frozen origin keeps the voted-on pages up, and
random query strings or Hosts cost the origin nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid

import psycopg
import pytest
from edge_http import post_vote, request, wait_until

CATEGORY = "/awards/breakthrough-artist"  # open for voting in the demo event
FRAGMENT = "/fragments/awards/breakthrough-artist/results"
HX = {"HX-Request": "true"}
OPEN_LIMITS = {
    "FANFARE_VOTE_LIMIT_PER_IP": "100000/minute",
    "FANFARE_VOTE_LIMIT_PER_SUBNET": "100000/minute",
    "FANFARE_VOTE_LIMIT_PER_VOTER": "100000/minute",
}


def ballot(database_url: str) -> tuple[int, list[int]]:
    with psycopg.connect(database_url) as conn:
        category = conn.execute(
            "SELECT id FROM categories WHERE slug = 'breakthrough-artist'"
        ).fetchone()[0]
        nominees = [
            r[0]
            for r in conn.execute("SELECT id FROM nominees WHERE category_id = %s", (category,))
        ]
    return category, nominees


def counted(database_url: str, category: int) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %s", (category,)
        ).fetchone()[0]


def shown_votes(body: str) -> int:
    """The total the results fragment shows."""
    return sum(int(n) for n in re.findall(r'data-votes="(\d+)"', body))


def vote(edge: str, category: int, nominee: int) -> None:
    status, _, body = post_vote(edge, {"category": category, "nominee": nominee}, HX)
    assert status == 202, body


def varnish(stack, *args: str) -> str:
    return subprocess.run(
        [args[0], "-n", str(stack.varnish_dir), *args[1:]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def backend_fetches(stack) -> int:
    """Requests the edge has sent to its backends (health probes are not counted)."""
    out = varnish(stack, "varnishstat", "-1", "-f", "MAIN.backend_req")
    return int(out.split()[1])


@pytest.fixture
def stack(make_stack, demo, redis_url):
    return make_stack(demo, redis_url, "web", "ingest", "worker", "edge", **OPEN_LIMITS)


def test_a_frozen_origin_during_a_live_vote_keeps_the_voted_on_pages_up(stack, demo):
    edge = stack.url()
    category, nominees = ballot(demo)
    before = counted(demo, category)
    assert request(edge + CATEGORY).status == 200
    assert request(edge + FRAGMENT).status == 200

    # Fresh counts within a poll of a vote while web is healthy (the purge is soft).
    vote(edge, category, nominees[0])
    wait_until(lambda: counted(demo, category) == before + 1, timeout=20)
    wait_until(lambda: shown_votes(request(edge + FRAGMENT).body) == before + 1, timeout=10)

    web = stack.processes["web"]
    os.killpg(web.pid, signal.SIGSTOP)
    try:
        # Votes keep flowing to ingest and the writer, which purges results:<id> again.
        vote(edge, category, nominees[1])
        wait_until(lambda: counted(demo, category) == before + 2, timeout=20)
        time.sleep(1.5)  # the writer purges at most once a second, then the purge is sent
        for path in (CATEGORY, FRAGMENT):
            answer = request(edge + path)
            assert answer.status == 200, (path, answer.status, answer.cache)
        wait_until(lambda: "sick" in varnish(stack, "varnishadm", "backend.list"), timeout=15)
        vote(edge, category, nominees[0])
        wait_until(lambda: counted(demo, category) == before + 3, timeout=20)
        time.sleep(1.5)
        for _ in range(5):
            for path in (CATEGORY, FRAGMENT):
                answer = request(edge + path)
                assert (answer.status, answer.cache) == (200, "HIT-STALE"), path
    finally:
        os.killpg(web.pid, signal.SIGCONT)

    # Back up: the edge refetches and shows every counted vote again.
    wait_until(lambda: shown_votes(request(edge + FRAGMENT).body) == before + 3, timeout=20)


def test_random_query_strings_and_hosts_cost_the_origin_nothing(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    page = "/awards/song-of-the-year"
    assert request(edge + page).status == 200
    assert request(edge + FRAGMENT).status == 200
    fetches = backend_fetches(stack)

    answers = [request(f"{edge}{page}?r={uuid.uuid4().hex}") for _ in range(20)]
    answers += [request(f"{edge}{FRAGMENT}?_={i}&r={i}") for i in range(20)]
    answers += [
        request(edge + page, headers={"Host": f"{uuid.uuid4().hex}.attacker.example"})
        for _ in range(20)
    ]
    assert {(a.status, a.cache) for a in answers} == {(200, "HIT")}
    # The fragment may have expired in the meantime (s-maxage=2): one refresh at most.
    assert backend_fetches(stack) - fetches <= 1
