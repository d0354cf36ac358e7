"""Request coalescing: however many fans poll one object, the origin sees one fetch per TTL."""

from __future__ import annotations

import asyncio
import time

import psycopg
from edge_http import request

POLLERS = 1000
ROUNDS = 5
INTERVAL = 1.0  # each poller asks once a second, like an htmx `every 1s` trigger

# The results fragment is not on main yet, so the polled object is a category page whose
# window changes every 2 s: its s-maxage is capped at 1-2 s with no stale-while-revalidate,
# so every expiry makes all pollers wait on one fetch (the edge's waiting list), the harder case.
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


def test_a_thousand_pollers_cost_one_origin_fetch_per_ttl(make_stack, demo, redis_url, tmp_path):
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
    access_log = tmp_path / "web-access.log"
    stack = make_stack(
        demo, redis_url, "web", "edge", GUNICORN_CMD_ARGS=f"--access-logfile {access_log}"
    )
    direct = request(stack.url("web") + PAGE).headers["cache-control"]
    assert "stale-while-revalidate=0" in direct and int(direct.split("s-maxage=")[1][0]) <= 2
    before = origin_gets(access_log, PAGE)

    started = time.monotonic()
    results = asyncio.run(crowd(stack.ports["edge"], PAGE))
    elapsed = time.monotonic() - started
    fetches = origin_gets(access_log, PAGE) - before

    assert len(results) == POLLERS * ROUNDS
    assert {status for status, _ in results} == {200}
    # Each copy lives at least 1 s (a whole-second s-maxage), so at most one fetch per second
    # of polling, plus the first miss; thousands of requests reached the edge meanwhile.
    assert 1 <= fetches <= int(elapsed) + 1, (fetches, elapsed, len(results))
    misses = sum(cache == "MISS" for _, cache in results)
    print(f"{len(results)} requests in {elapsed:.1f} s, {fetches} origin fetches, {misses} MISS")
