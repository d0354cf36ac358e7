"""Final only when counted: "Counting…" until every vote cast before the close is stored."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from edge_http import post_vote, request, wait_until

from fanfare.content import finals
from fanfare.votes.backlog import unacked_before
from fanfare.votes.stream import GROUP, STREAM

pytestmark = pytest.mark.fan


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def stream(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def add(client: redis.Redis, cast_at: datetime) -> bytes:
    return client.xadd(STREAM, {"v": "x", "t": str(_ms(cast_at))})


def test_no_stream_and_an_empty_group_hold_nothing(stream):
    close = datetime.now(UTC)
    assert unacked_before(stream, close) is False
    stream.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    assert unacked_before(stream, close) is False


def test_undelivered_then_pending_then_acked(stream):
    close = datetime.now(UTC) + timedelta(seconds=1)
    stream.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    before = add(stream, close - timedelta(milliseconds=5))
    assert unacked_before(stream, close) is True  # queued, not yet read by any writer

    stream.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=10)
    assert unacked_before(stream, close) is True  # read but not acked: pending

    # A second writer claims it (a crashed first writer): still pending, still not counted.
    stream.xautoclaim(STREAM, GROUP, "w2", 0, "0-0")
    assert unacked_before(stream, close) is True

    stream.xack(STREAM, GROUP, before)
    assert unacked_before(stream, close) is False


def test_votes_cast_after_the_close_do_not_hold_it_back(stream):
    close = datetime.now(UTC) - timedelta(seconds=1)
    stream.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    add(stream, close + timedelta(milliseconds=1))  # undelivered, but cast after the close
    stream.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)
    add(stream, close + timedelta(milliseconds=2))
    assert unacked_before(stream, close) is False


def test_a_late_xadd_of_a_vote_cast_before_the_close_holds_it_back(stream):
    # Ingest stamped the vote before the close; Redis appended it just after (its id is later).
    close = datetime.now(UTC) - timedelta(milliseconds=500)
    stream.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    add(stream, close + timedelta(milliseconds=3))
    add(stream, close - timedelta(milliseconds=1))
    assert unacked_before(stream, close) is True


def fragment(base: str, slug: str) -> str:
    return request(f"{base}/fragments/awards/{slug}/results").body


def counts(html: str) -> int:
    return sum(int(v) for v in re.findall(r'data-votes="(\d+)"', html))


def test_writer_paused_across_the_close_counts_then_turns_final(make_stack, demo, redis_url):
    slug = "breakthrough-artist"
    stack = make_stack(demo, redis_url, "web", "ingest", "scheduler", "worker")
    with psycopg.connect(demo) as conn:
        category_id, closes_at = conn.execute(
            "UPDATE voting_windows SET closes_at = now() + interval '4 seconds'"
            " WHERE category_id = (SELECT id FROM categories WHERE slug = %s)"
            " RETURNING category_id, closes_at",
            (slug,),
        ).fetchone()
        nominees = [r[0] for r in conn.execute(
            "SELECT id FROM nominees WHERE category_id = %s ORDER BY id", (category_id,)
        )]  # fmt: skip
    worker = stack.processes["worker"]
    os.killpg(worker.pid, signal.SIGSTOP)  # the writer is paused across the close
    try:
        accepted = 0
        for i in range(24):
            status, _, _ = post_vote(
                stack.url("ingest"),
                {"category": category_id, "nominee": nominees[i % len(nominees)]},
                {"Sec-Fetch-Site": "same-origin"},
            )
            accepted += status in (202, 303)
        assert accepted > 0
        time.sleep(max(0.0, (closes_at - datetime.now(UTC)).total_seconds()) + 4.5)
        # Past the close and its in-flight allowance: still counting, polling, never final.
        for _ in range(4):
            html = fragment(stack.url("web"), slug)
            assert "Counting…" in html and "Final" not in html
            assert 'data-status="counting"' in html and "hx-trigger" in html
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGCONT)

    final = wait_until(
        lambda: "Final results" in (h := fragment(stack.url("web"), slug)) and h, timeout=20
    )
    assert "hx-trigger" not in final and 'data-status="final"' in final
    assert counts(final) == accepted
    with psycopg.connect(demo) as conn:
        tree_size, reason = conn.execute(
            "SELECT tree_size, reason FROM tally_roots WHERE category_id = %s", (category_id,)
        ).fetchone()
    assert tree_size == accepted and reason.startswith("final")
    assert f"Root of all {accepted} counted votes" in final
    answer = request(f"{stack.url('web')}/fragments/awards/{slug}/results")
    assert "s-maxage=86400" in answer.headers["cache-control"]


def close_breakthrough(demo: str, seconds_ago: int) -> tuple[int, datetime]:
    with psycopg.connect(demo) as conn:
        return conn.execute(
            "UPDATE voting_windows SET opens_at = now() - interval '1 hour',"
            " closes_at = now() - make_interval(secs => %s)"
            " WHERE category_id = (SELECT id FROM categories WHERE slug = 'breakthrough-artist')"
            " RETURNING category_id, closes_at",
            (seconds_ago,),
        ).fetchone()


def run_job(demo: str, client: redis.Redis) -> set[str]:
    now = datetime.now(UTC)
    with psycopg.connect(demo, autocommit=True) as conn, conn.transaction():
        return finals.job(client)(conn, now - timedelta(seconds=1), now)


def test_the_finals_job_waits_for_the_backlog_then_declares_final_once(demo, stream):
    category_id, closes_at = close_breakthrough(demo, 10)
    stream.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    # Cast a second before the close and appended at once (its id is that moment too).
    cast_ms = _ms(closes_at - timedelta(seconds=1))
    entry = stream.xadd(STREAM, {"v": "x", "t": str(cast_ms)}, id=f"{cast_ms}-*")

    assert run_job(demo, stream) == set()  # a vote cast before the close is still queued
    stream.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=10)
    stream.xack(STREAM, GROUP, entry)
    changed = run_job(demo, stream)

    assert changed >= {f"results:{category_id}", f"category:{category_id}", "history"}
    assert f"results:{category_id}" not in run_job(demo, stream)  # final once
    with psycopg.connect(demo) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM tally_roots WHERE category_id = %s", (category_id,)
            ).fetchone()[0]
            == 1
        )


def test_a_close_is_not_judged_before_its_in_flight_votes_could_arrive(demo, stream):
    category_id, _ = close_breakthrough(demo, 1)  # closed a second ago: votes may be in flight
    assert f"results:{category_id}" not in run_job(demo, stream)


def test_without_redis_the_job_stays_counting_and_does_not_fail(demo):
    close_breakthrough(demo, 10)
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        assert run_job(demo, unreachable) == set()
    finally:
        unreachable.close()
    with psycopg.connect(demo) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM window_finals f JOIN categories c ON c.id = f.category_id"
                " WHERE c.slug = 'breakthrough-artist'"
            ).fetchone()[0]
            == 0
        )
