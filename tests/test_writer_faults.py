"""The vote writer's loose ends, against real Redis and PostgreSQL: an entry that keeps failing
is dead-lettered (capped, its receipt says so), PostgreSQL being away never is, the trim survives
its race, and a lost consumer group is recreated out loud."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis
from edge_http import wait_until

from fanfare.votes.stream import DEAD_LETTERS, GROUP, STREAM, Vote, receipt_key, server_time, uuid7
from workers import stream_upkeep
from workers.vote_writer import VoteWriter


def a_vote(database_url: str, voter: str) -> Vote:
    with psycopg.connect(database_url) as conn:
        category, window, nominee = conn.execute(
            "SELECT c.id, w.id, n.id FROM categories c"
            " JOIN voting_windows w ON w.category_id = c.id"
            " JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' LIMIT 1"
        ).fetchone()
    return Vote(
        vote_id=uuid7(),
        category_id=category,
        nominee_id=nominee,
        window_id=window,
        voter_id=voter,
        ip_hash="",
        cast_at=server_time(),
    )


def enqueue(r: redis.Redis, vote: Vote) -> None:
    """What ingest's script does for an accepted vote: a queued receipt and the entry."""
    r.hset(receipt_key(str(vote.vote_id)), mapping={"s": "queued", "c": vote.category_id})
    r.xadd(STREAM, vote.fields())


def receipt(r: redis.Redis, vote: Vote) -> dict[bytes, bytes]:
    return r.hgetall(receipt_key(str(vote.vote_id)))


def stored(database_url: str, vote: Vote) -> bool:
    with psycopg.connect(database_url) as conn:
        sql = "SELECT count(*) FROM votes WHERE vote_id = %s AND counted"
        return conn.execute(sql, (vote.vote_id,)).fetchone()[0] == 1


def drained(r: redis.Redis) -> bool:
    """The writer has made its group and acked everything it was given."""
    return bool(r.exists(STREAM) and r.xinfo_groups(STREAM)) and pending(r) == 0


def pending(r: redis.Redis) -> int:
    return sum(g["pending"] for g in r.xinfo_groups(STREAM)) if r.exists(STREAM) else 0


@pytest.fixture
def running(redis_url: str) -> Iterator[Callable[..., VoteWriter]]:
    """Start VoteWriter.run() in a thread with the given options; stopped after the test."""
    started: list[tuple[VoteWriter, threading.Thread]] = []

    def start(conninfo: str, **options: object) -> VoteWriter:
        client = redis.Redis.from_url(redis_url, socket_timeout=15)
        writer = VoteWriter(redis_client=client, conninfo=conninfo, consumer="w1", **options)
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        started.append((writer, thread))
        return writer

    yield start
    for writer, thread in started:
        writer.stopping = True
        thread.join(timeout=20)


def test_an_entry_that_keeps_failing_is_dead_lettered_and_its_receipt_says_so(
    demo, redis_url, running
):
    poison, good = a_vote(demo, "poison-voter"), a_vote(demo, "good-voter")
    with psycopg.connect(demo, autocommit=True) as conn:
        # A vote PostgreSQL refuses on a healthy connection every time (57014: query_canceled,
        # the error a statement_timeout gives), the kind of batch main re-read forever.
        conn.execute(
            f"""CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.vote_id = '{poison.vote_id}' THEN
                RAISE EXCEPTION 'refused for the test' USING ERRCODE = '57014';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_one BEFORE INSERT ON votes
              FOR EACH ROW EXECUTE FUNCTION refuse_one();"""
        )
    with redis.Redis.from_url(redis_url) as r:
        enqueue(r, poison)
        enqueue(r, good)
        running(demo, max_deliveries=2)
        wait_until(lambda: drained(r), timeout=30)

        assert stored(demo, good) and not stored(demo, poison)
        assert receipt(r, poison)[b"s"] == b"rejected"
        assert receipt(r, poison)[b"r"] == b"unprocessable"
        assert receipt(r, good)[b"s"] == b"counted"
        [(_, dead)] = r.xrange(DEAD_LETTERS)
        assert dead[b"v"] == str(poison.vote_id).encode()
        assert b"after 3 deliveries" in dead[b"error"]


def test_postgres_away_past_the_delivery_limit_dead_letters_nothing(demo, redis_url, running):
    votes = [a_vote(demo, f"voter-{i}") for i in range(3)]
    with redis.Redis.from_url(redis_url) as r:
        for vote in votes:
            enqueue(r, vote)
        writer = running("postgresql://127.0.0.1:1/nowhere", max_deliveries=1)

        def delivered_often() -> bool:
            rows = r.xpending_range(STREAM, GROUP, min="-", max="+", count=10) if pending(r) else []
            return bool(rows) and min(row["times_delivered"] for row in rows) > 2

        wait_until(delivered_often, timeout=60)
        writer.conninfo = demo  # PostgreSQL is back
        wait_until(lambda: pending(r) == 0, timeout=60)

        assert all(stored(demo, vote) for vote in votes)
        assert r.xlen(DEAD_LETTERS) == 0
        assert {receipt(r, vote)[b"s"] for vote in votes} == {b"counted"}


def test_dead_letters_are_capped_and_their_receipts_marked(demo, redis_url, running):
    with redis.Redis.from_url(redis_url) as r:
        ids = []
        for _ in range(12):
            vote_id = str(uuid.uuid4())
            ids.append(vote_id)
            r.hset(receipt_key(vote_id), mapping={"s": "queued"})
            r.xadd(STREAM, {"v": vote_id, "garbage": "1"})  # undecodable: no category, ...
        running(demo, dead_letters_maxlen=5)
        wait_until(lambda: drained(r), timeout=30)
        wait_until(lambda: r.xlen(DEAD_LETTERS) == 5, timeout=30)
        time.sleep(0.5)

        assert r.xlen(DEAD_LETTERS) == 5
        assert {r.hget(receipt_key(i), "s") for i in ids} == {b"rejected"}


def test_trim_survives_pending_dropping_to_zero_between_xinfo_and_xpending(redis_url):
    with redis.Redis.from_url(redis_url) as r:
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        ids = [r.xadd(STREAM, {"n": str(i)}) for i in range(4)]
        r.xreadgroup(GROUP, "elsewhere", {STREAM: ">"}, count=4)
        groups = r.xinfo_groups(STREAM)  # says 4 pending ...
        r.xack(STREAM, GROUP, *ids)  # ... and before XPENDING runs, they are acked

        stream_upkeep.trim(r, groups)

        assert [entry_id for entry_id, _ in r.xrange(STREAM)] == [ids[-1]]


def test_a_lost_consumer_group_is_recreated_and_said_so(demo, redis_url, running, caplog):
    caplog.set_level(logging.INFO, logger="fanfare.vote_writer")
    first, second = a_vote(demo, "before-restart"), a_vote(demo, "after-restart")
    with redis.Redis.from_url(redis_url) as r:
        enqueue(r, first)
        running(demo)
        wait_until(lambda: stored(demo, first), timeout=30)

        r.flushall()  # what a Redis restarted without persistence looks like to the writer
        enqueue(r, second)  # ingest's XADD recreates the stream, but not the group
        wait_until(lambda: stored(demo, second), timeout=30)

    assert any("consumer group" in m and "is gone" in m for m in caplog.messages)
