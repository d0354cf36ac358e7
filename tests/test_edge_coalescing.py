"""Request coalescing: however many fans poll one object, the origin sees one fetch per TTL."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from edge_http import request

POLLERS = 1000
ROUNDS = 5
INTERVAL = 1.0  # each poller asks once a second, like an htmx `every 1s` trigger

FRAGMENT = "/fragments/awards/breakthrough-artist/results"  # s-maxage=2, stale-while-revalidate=5
# A category page whose window changes every 2 s: s-maxage capped at 1-2 s with no
# stale-while-revalidate, so each expiry makes all pollers wait on one fetch (the waiting list).
PAGE = "/awards/song-of-the-year"


async def poll(host: str, port: int, path: str, results: list[tuple[int, str]]) -> None:
    """One fan: GET path ROUNDS times, INTERVAL apart, recording status and X-Cache."""
    for round_ in range(ROUNDS):
        if round_:
            await asyncio.sleep(INTERVAL)
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: fans.example\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read()  # HTTP/1.0: the edge closes after the body
        finally:
            writer.close()
            await writer.wait_closed()
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        cache = next(
            (h.split(":", 1)[1].strip() for h in head if h.lower().startswith("x-cache")), ""
        )
        results.append((int(head[0].split()[1]), cache))


async def crowd(port: int, path: str) -> list[tuple[int, str]]:
    """POLLERS concurrent fans, all starting at the same moment on a cold cache."""
    results: list[tuple[int, str]] = []
    await asyncio.gather(*(poll("127.0.0.1", port, path, results) for _ in range(POLLERS)))
    return results


def origin_gets(access_log, path: str) -> int:
    return sum(f'"GET {path} ' in line for line in access_log.read_text().splitlines())


def run_in_own_loop(coroutine):
    """asyncio.run() in a thread of its own: under pytest-xdist a worker that ran an e2e file
    first still has Playwright's event loop running in its main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_crowd(stack, access_log, path: str) -> tuple[list[tuple[int, str]], float, int]:
    """Let the crowd poll path; return the answers, the seconds it took and the origin's GETs."""
    before = origin_gets(access_log, path)
    started = time.monotonic()
    results = run_in_own_loop(crowd(stack.ports["edge"], path))
    elapsed = time.monotonic() - started
    fetches = origin_gets(access_log, path) - before
    misses = sum(cache == "MISS" for _, cache in results)
    print(
        f"{path}: {len(results)} requests in {elapsed:.1f} s, {fetches} origin GETs, {misses} MISS"
    )
    assert len(results) == POLLERS * ROUNDS
    assert {status for status, _ in results} == {200}
    return results, elapsed, fetches


@pytest.fixture
def access_log(tmp_path):
    return tmp_path / "web-access.log"


@pytest.fixture
def stack(make_stack, demo, redis_url, access_log):
    """web and edge, with the origin's access log on, to count what reaches it."""
    return make_stack(
        demo, redis_url, "web", "edge", GUNICORN_CMD_ARGS=f"--access-logfile {access_log}"
    )


def test_a_thousand_pollers_of_the_results_island_cost_one_fetch_per_ttl(stack, access_log):
    direct = request(stack.url("web") + FRAGMENT).headers["cache-control"]
    assert "s-maxage=2," in direct and "stale-while-revalidate=5" in direct
    _, elapsed, fetches = run_crowd(stack, access_log, FRAGMENT)
    # One refresh per 2 s TTL (in the background, while the others get the copy in grace),
    # plus the first miss: the run overlaps at most ceil(elapsed / 2) + 1 TTL windows.
    assert 1 <= fetches <= math.ceil(elapsed / 2) + 1, (fetches, elapsed)


def test_a_thousand_pollers_of_an_expiring_page_wait_on_one_fetch(stack, access_log, demo):
    with psycopg.connect(demo) as conn:
        conn.execute(
            "DELETE FROM voting_windows WHERE category_id ="
            " (SELECT id FROM categories WHERE slug = 'song-of-the-year')"
        )
        conn.execute(
            "INSERT INTO voting_windows (category_id, opens_at, closes_at)"
            " SELECT c.id, now() + k * interval '2 seconds', now() + (k + 1) * interval '2 seconds'"
            " FROM categories c, generate_series(0, 30) AS k WHERE c.slug = 'song-of-the-year'"
        )
    direct = request(stack.url("web") + PAGE).headers["cache-control"]
    assert "stale-while-revalidate=0" in direct and int(direct.split("s-maxage=")[1][0]) <= 2
    _, elapsed, fetches = run_crowd(stack, access_log, PAGE)
    # Each copy lives at least 1 s (a whole-second s-maxage): at most one fetch per second.
    assert 1 <= fetches <= math.ceil(elapsed) + 1, (fetches, elapsed)
