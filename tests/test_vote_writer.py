"""The vote writer as a subprocess against real Redis and PostgreSQL: every 202 counted once."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis
from edge_http import post_vote

from fanfare.votes.stream import (
    DEAD_LETTERS,
    GROUP,
    STREAM,
    Vote,
    decode,
    receipt_key,
    server_time,
    uuid7,
)
from workers.vote_store import store
from workers.vote_writer import APPLICATION, VoteWriter

HX = {"HX-Request": "true"}
OPEN_LIMITS = {
    "FANFARE_VOTE_LIMIT_PER_IP": "100000/minute",
    "FANFARE_VOTE_LIMIT_PER_SUBNET": "100000/minute",
    "FANFARE_VOTE_LIMIT_PER_VOTER": "100000/minute",
    "FANFARE_CLAIM_IDLE_MS": "300",
}


def get(url: str) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def one(database_url: str, sql: str, params: tuple = ()):
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def ballot_ids(database_url: str, slug: str) -> tuple[int, int, list[int]]:
    """(category id, its window id, its nominee ids)."""
    with psycopg.connect(database_url) as conn:
        category, window = conn.execute(
            "SELECT c.id, w.id FROM categories c JOIN voting_windows w ON w.category_id = c.id"
            " WHERE c.slug = %s",
            (slug,),
        ).fetchone()
        nominees = [
            r[0]
            for r in conn.execute("SELECT id FROM nominees WHERE category_id = %s", (category,))
        ]
    return category, window, nominees


def vote_for(database_url: str, slug: str, voter: str = "voter-1", nominee: int = 0) -> Vote:
    category, window, nominees = ballot_ids(database_url, slug)
    return Vote(
        vote_id=uuid7(),
        category_id=category,
        nominee_id=nominees[nominee],
        window_id=window,
        voter_id=voter,
        ip_hash="",
        cast_at=server_time(),
    )


def with_receipt(r: redis.Redis, vote: Vote) -> dict[str, str]:
    """Make the "queued" receipt ingest's script makes with a vote; return the entry's fields."""
    key = receipt_key(str(vote.vote_id))
    r.hset(key, mapping={"s": "queued", "c": vote.category_id, "n": vote.nominee_id})
    r.expire(key, 600)
    return vote.fields()


def counted(database_url: str) -> int:
    """Counted votes across the open categories (the demo's closed ones have seeded tallies)."""
    return one(
        database_url,
        "SELECT COALESCE(sum(votes), 0) FROM tallies t JOIN categories c ON c.id = t.category_id"
        " WHERE c.slug IN ('breakthrough-artist', 'song-of-the-year')",
    )


def stored(database_url: str, where: str = "true") -> int:
    """Votes the writers stored (the demo event's seeded votes aside)."""
    return one(
        database_url, f"SELECT count(*) FROM votes WHERE voter_id NOT LIKE 'demo-%%' AND {where}"
    )


def all_acked(redis_url: str) -> bool:
    """Every entry ever added was delivered to the writers' group and acked."""
    with redis.Redis.from_url(redis_url) as r:
        if not r.exists(STREAM):
            return False
        last = r.xinfo_stream(STREAM)["last-generated-id"]
        groups = r.xinfo_groups(STREAM)
        return bool(groups) and all(
            g["pending"] == 0 and g["last-delivered-id"] == last for g in groups
        )


def test_the_same_entry_delivered_twice_is_counted_once(make_stack, demo, redis_url):
    vote = vote_for(demo, "breakthrough-artist")
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(STREAM, with_receipt(r, vote))
        r.xadd(STREAM, vote.fields())  # e.g. a retried XADD

    make_stack(demo, redis_url, "worker", **OPEN_LIMITS)
    wait_until(lambda: all_acked(redis_url))

    assert counted(demo) == 1
    assert one(demo, "SELECT count(*) FROM votes WHERE vote_id = %s", (vote.vote_id,)) == 1
    with redis.Redis.from_url(redis_url) as r:
        assert r.hget(f"receipt:{vote.vote_id}", "s") == b"counted"


def test_redelivered_batch_is_absorbed_by_the_primary_key(demo):
    votes = [vote_for(demo, "breakthrough-artist", voter=f"v{i}") for i in range(3)]
    with psycopg.connect(demo, autocommit=True) as conn:
        first, changed = store(conn, votes)
        second, _ = store(conn, votes)

    assert set(first.values()) == {("counted", None)} and second == first
    assert changed == {votes[0].category_id}
    assert counted(demo) == 3


def test_postgres_enforces_the_quota_even_past_redis(demo):
    # Five votes from one voter that never went through Redis's quota (max_votes_per_voter = 1).
    votes = [vote_for(demo, "breakthrough-artist", nominee=i) for i in range(5)]
    with psycopg.connect(demo, autocommit=True) as conn:
        statuses, _ = store(conn, votes[:2])
        more, _ = store(conn, votes[2:])

    assert statuses[votes[0].vote_id] == ("counted", None)
    assert {**statuses, **more} | {votes[0].vote_id: None} == {
        **{v.vote_id: ("rejected", "over_quota") for v in votes[1:]},
        votes[0].vote_id: None,
    }
    assert counted(demo) == 1


def test_a_redelivered_vote_beside_a_new_one_charges_only_the_new_one(demo):
    first, second = (vote_for(demo, "breakthrough-artist", nominee=i) for i in range(2))
    with psycopg.connect(demo, autocommit=True) as conn:
        store(conn, [first])
        statuses, _ = store(conn, [first, second])  # first redelivered, second past the quota

    assert statuses == {
        first.vote_id: ("counted", None),
        second.vote_id: ("rejected", "over_quota"),
    }
    assert counted(demo) == 1
    assert one(demo, "SELECT used FROM voter_usage WHERE voter_id = %s", (first.voter_id,)) == 2


def test_within_one_batch_the_earliest_votes_count_up_to_the_quota(demo):
    votes = [vote_for(demo, "song-of-the-year", nominee=i % 3) for i in range(5)]  # quota 3
    with psycopg.connect(demo, autocommit=True) as conn:
        statuses, _ = store(conn, list(reversed(votes)))

    assert [statuses[v.vote_id][0] for v in votes] == ["counted"] * 3 + ["rejected"] * 2
    assert counted(demo) == 3


def test_a_refused_batch_leaves_nothing_staged_for_the_next(demo):
    poison = vote_for(demo, "breakthrough-artist", voter="nul\x00byte")
    good = vote_for(demo, "breakthrough-artist", voter="fine")
    with psycopg.connect(demo, autocommit=True) as conn:
        with pytest.raises(psycopg.Error):
            store(conn, [good, poison])
        statuses, _ = store(conn, [good])
        staged = conn.execute("SELECT count(*) FROM vote_batch").fetchone()[0]

    assert statuses == {good.vote_id: ("counted", None)}
    assert staged == 0  # emptied at COMMIT
    assert counted(demo) == 1 and stored(demo) == 1


def post_many(base: str, slug_ids: tuple[int, list[int]], n: int) -> list[int]:
    """n votes from n new voters (no cookie), 16 at a time; their status codes."""
    category, nominees = slug_ids

    def cast(i: int) -> int:
        form = {"category": category, "nominee": nominees[i % len(nominees)]}
        return post_vote(base, form, HX)[0]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(cast, range(n)))


def blocked_on_a_lock(database_url: str) -> bool:
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    return bool(
        one(
            database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (dbname,),
        )
    )


@pytest.mark.parametrize("moment", ["inside the transaction", "after COMMIT, before XACK"])
def test_kill_9_mid_batch_then_restart_counts_every_202_exactly_once(
    make_stack, demo, redis_url, moment
):
    stack = make_stack(demo, redis_url, "ingest", **OPEN_LIMITS)
    category, _, nominees = ballot_ids(demo, "breakthrough-artist")
    codes = post_many(stack.url("ingest"), (category, nominees), 300)
    accepted = codes.count(202)
    assert accepted == 300

    with psycopg.connect(demo) as holder, redis.Redis.from_url(redis_url) as r:
        # Hold the tallies so the writer stops inside its batch transaction.
        holder.execute("LOCK TABLE tallies IN EXCLUSIVE MODE")
        stack.start("worker")
        wait_until(lambda: blocked_on_a_lock(demo))
        if moment == "after COMMIT, before XACK":
            r.execute_command("CLIENT", "PAUSE", "20000", "WRITE")  # the XACK will wait
            holder.commit()  # the writer commits now
            wait_until(lambda: stored(demo) > 0)
        stack.kill("worker")
        r.execute_command("CLIENT", "UNPAUSE")
        holder.rollback()
        stored_before_restart = stored(demo)

        stack.start("worker")
        wait_until(lambda: all_acked(redis_url))

    assert stored_before_restart == (0 if moment == "inside the transaction" else 300)
    assert counted(demo) == accepted
    assert stored(demo, "counted") == stored(demo) == accepted


def test_fifty_concurrent_votes_from_one_voter_count_max_votes(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "ingest", "worker", **OPEN_LIMITS)
    category, _, nominees = ballot_ids(demo, "song-of-the-year")  # max_votes_per_voter = 3
    # The first answer (a 400 here) gives the browser its voter cookie.
    _, headers, _ = post_vote(stack.url("ingest"), {})
    cookie = headers["Set-Cookie"].split(";")[0]

    def cast(i: int) -> int:
        form = {"category": category, "nominee": nominees[i % len(nominees)]}
        return post_vote(stack.url("ingest"), form, {**HX, "Cookie": cookie})[0]

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(cast, range(50)))

    assert sorted(set(codes)) == [202, 409] and codes.count(202) == 3
    wait_until(lambda: all_acked(redis_url))
    assert counted(demo) == 3


def test_two_writers_at_once_count_each_vote_once_and_keep_the_quota(make_stack, demo, redis_url):
    # 40 voters x 10 votes straight into the stream, past Redis's quota (max 1 per voter).
    votes = [
        vote_for(demo, "breakthrough-artist", voter=f"voter-{v}", nominee=k % 6)
        for k in range(10)
        for v in range(40)
    ]
    first = make_stack(demo, redis_url, "worker", FANFARE_WRITER_BATCH="25")
    second = make_stack(demo, redis_url, "worker", FANFARE_WRITER_BATCH="25")
    with redis.Redis.from_url(redis_url) as r:
        # Both waiting in XREADGROUP first, or one fast writer could take every batch alone.
        wait_until(lambda: r.exists(STREAM) and len(r.xinfo_consumers(STREAM, GROUP)) == 2)
        pipe = r.pipeline(transaction=False)
        for vote in votes:
            pipe.xadd(STREAM, vote.fields())
        pipe.execute()
    wait_until(lambda: all_acked(redis_url))

    with redis.Redis.from_url(redis_url) as r:
        consumers = {c["name"] for c in r.xinfo_consumers(STREAM, GROUP) if c["pending"] == 0}
    assert len(consumers) == 2  # two writers in one group, each with its own consumer
    assert stored(demo) == 400
    assert counted(demo) == stored(demo, "counted") == 40
    assert stored(demo, "reject_reason = 'over_quota'") == 360
    assert first.processes["worker"].poll() is None and second.processes["worker"].poll() is None


def test_window_closing_between_ingest_and_worker_stores_the_vote_as_rejected(
    make_stack, demo, redis_url
):
    stack = make_stack(demo, redis_url, "ingest", **OPEN_LIMITS)
    category, window, nominees = ballot_ids(demo, "breakthrough-artist")
    status, headers, _ = post_vote(
        stack.url("ingest"), {"category": category, "nominee": nominees[0]}
    )
    assert status == 303
    receipt = headers["Location"].rsplit("/", 1)[1]
    # The window turns out to have closed before the vote's timestamp (an editor moved it).
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE voting_windows SET closes_at = opens_at + interval '1 second' WHERE id = %s",
            (window,),
        )

    stack.start("worker")
    wait_until(lambda: all_acked(redis_url))

    with psycopg.connect(demo) as conn:
        row = conn.execute(
            "SELECT counted, reject_reason FROM votes WHERE vote_id = %s", (receipt,)
        ).fetchone()
    assert row == (False, "closed")
    assert counted(demo) == 0
    status, page = get(stack.url("ingest") + f"/votes/{receipt}")
    assert status == 200 and "Not counted" in page and "after voting closed" in page


def test_undecodable_entries_go_to_the_dead_letter_stream(make_stack, demo, redis_url):
    good = vote_for(demo, "breakthrough-artist")
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(STREAM, {"v": "not-a-uuid", "c": "1"})
        r.xadd(STREAM, good.fields())

        make_stack(demo, redis_url, "worker")
        wait_until(lambda: all_acked(redis_url))

        [(_, dead)] = r.xrange(DEAD_LETTERS)
    assert dead[b"v"] == b"not-a-uuid" and b"undecodable" in dead[b"error"]
    assert counted(demo) == 1


def test_a_vote_postgres_refuses_is_dead_lettered_and_the_rest_counted(make_stack, demo, redis_url):
    poison = vote_for(demo, "breakthrough-artist", voter="nul\x00byte")  # text cannot hold NUL
    good = vote_for(demo, "breakthrough-artist", voter="fine")
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(STREAM, poison.fields())
        r.xadd(STREAM, with_receipt(r, good))

        make_stack(demo, redis_url, "worker")
        wait_until(lambda: all_acked(redis_url))

        [(_, dead)] = r.xrange(DEAD_LETTERS)
        assert r.hget(f"receipt:{good.vote_id}", "s") == b"counted"
    assert dead[b"v"] == str(poison.vote_id).encode()
    assert b"refused by PostgreSQL" in dead[b"error"]
    assert counted(demo) == 1


def test_writer_survives_redis_going_away(make_stack, demo, redis_url, redis_server):
    stack = make_stack(demo, redis_url, "worker")
    with redis.Redis.from_url(redis_url) as r:
        wait_until(lambda: r.exists(STREAM) and bool(r.xinfo_groups(STREAM)))
    redis_server.stop()
    time.sleep(1.5)
    redis_server.start()  # empty: the stream and the group are gone too

    vote = vote_for(demo, "breakthrough-artist")
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(STREAM, vote.fields())
    wait_until(lambda: counted(demo) == 1)
    assert stack.processes["worker"].poll() is None


def test_writer_reconnects_when_its_postgres_connection_is_killed(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "worker")
    first = vote_for(demo, "breakthrough-artist", voter="a")
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(STREAM, first.fields())
        wait_until(lambda: counted(demo) == 1)

        killed = one(
            demo,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APPLICATION,),
        )
        r.xadd(STREAM, vote_for(demo, "breakthrough-artist", voter="b").fields())
        wait_until(lambda: counted(demo) == 2)

    assert killed == 1
    assert stack.processes["worker"].poll() is None
    assert "retrying in" in stack.log("worker").read_text()


def test_first_sigterm_stops_the_writer_warmly(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "worker")
    with redis.Redis.from_url(redis_url) as r:
        wait_until(lambda: r.exists(STREAM) and bool(r.xinfo_groups(STREAM)))
    process = stack.processes["worker"]

    stack.stop("worker", timeout=10)

    assert process.returncode == 0
    assert "stopped" in stack.log("worker").read_text()


def test_trimming_keeps_every_entry_not_yet_acked(demo, redis_url):
    with redis.Redis.from_url(redis_url) as r:
        writer = VoteWriter(redis_client=r, conninfo=demo, consumer="me")
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        ids = [r.xadd(STREAM, {"n": str(i)}) for i in range(6)]
        r.xreadgroup(GROUP, "elsewhere", {STREAM: ">"}, count=6)
        r.xack(STREAM, GROUP, *ids[:3])

        writer.trim()
        kept_while_pending = [entry_id for entry_id, _ in r.xrange(STREAM)]
        r.xack(STREAM, GROUP, *ids[3:])
        undelivered = r.xadd(STREAM, {"n": "6"})
        writer.trim()
        kept_after_ack = [entry_id for entry_id, _ in r.xrange(STREAM)]

    assert kept_while_pending == ids[3:]
    assert kept_after_ack == [ids[5], undelivered]  # the last delivered, and the undelivered


def test_consumers_with_nothing_pending_are_forgotten(demo, redis_url):
    with redis.Redis.from_url(redis_url) as r:
        writer = VoteWriter(redis_client=r, conninfo=demo, consumer="me")
        writer.forget_consumer_after_ms = 0
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        for i in range(3):
            r.xadd(STREAM, {"n": str(i)})
        r.xreadgroup(GROUP, "crashed", {STREAM: ">"}, count=1)  # left one entry pending
        for name in ("restarted", "me"):  # each took one entry and acked it
            [[_, [(entry_id, _)]]] = r.xreadgroup(GROUP, name, {STREAM: ">"}, count=1)
            r.xack(STREAM, GROUP, entry_id)

        writer.forget_idle_consumers()
        names = {c["name"] for c in r.xinfo_consumers(STREAM, GROUP)}

    assert names == {b"crashed", b"me"}


def test_decode_round_trips_a_vote(demo):
    vote = vote_for(demo, "breakthrough-artist")
    raw = {k.encode(): v.encode() for k, v in vote.fields().items()}
    assert decode(raw) == vote
    assert GROUP and STREAM


def _writer_with_a_batch_read_ahead(demo: str, r: redis.Redis) -> VoteWriter:
    """A writer (batches of 2, four votes queued) that stored one batch and read the next."""
    for voter in "abcd":
        r.xadd(STREAM, vote_for(demo, "breakthrough-artist", voter=voter).fields())
    writer = VoteWriter(redis_client=r, conninfo=demo, consumer="me", batch=2)
    wait_until(lambda: writer.step() == 2)
    wait_until(lambda: r.xpending(STREAM, GROUP)["pending"] == 2)  # the next two, read ahead
    return writer


def test_a_warm_stop_stores_the_batch_read_ahead(demo, redis_url):
    with redis.Redis.from_url(redis_url) as r:
        writer = _writer_with_a_batch_read_ahead(demo, r)
        writer.stopping = True
        writer.run()  # no round: only what was read ahead, then close

    assert counted(demo) == 4 and all_acked(redis_url)


def test_after_a_failure_the_batch_read_ahead_is_read_again(demo, redis_url):
    with redis.Redis.from_url(redis_url) as r:
        writer = _writer_with_a_batch_read_ahead(demo, r)
        writer._reset()  # what run() does after an error: drop the read ahead, re-read own pending
        wait_until(lambda: writer.step() == 0 and all_acked(redis_url))
        writer.close()

    assert counted(demo) == 4
