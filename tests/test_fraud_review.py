"""Detection, invalidation and undo, against real PostgreSQL: votes go in through the writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from fanfare import settings
from fanfare.content import tally_proof
from fanfare.fraud import detection, invalidation
from fanfare.fraud.budget import suspect_key
from fanfare.fraud.rate import fraud_rate
from fanfare.votes.stream import Vote, server_time, uuid7
from tests.test_vote_writer import ballot_ids
from workers.vote_store import store

EDITOR = {"id": None, "email": "reviewer@example.org"}
LIMITS = detection.Thresholds(
    window_seconds=60, per_ip=20, per_subnet=50, per_ua=80, new_voters_per_subnet=45,
    suspect_seconds=60,
)  # fmt: skip


def votes_from(demo: str, n: int, *, ip: str, subnet: str, ua: str, nominee: int = 0) -> list:
    """n new voters' votes for one nominee, with these signal hashes, cast just now."""
    category, window, nominees = ballot_ids(demo, "breakthrough-artist")
    return [
        Vote(
            vote_id=uuid7(),
            category_id=category,
            nominee_id=nominees[nominee],
            window_id=window,
            voter_id=f"{ip}-{subnet}-{ua}-{i}",
            ip_hash=ip,
            cast_at=server_time(),
            subnet_hash=subnet,
            ua_hash=ua,
            new_voter=True,
        )
        for i in range(n)
    ]


def tallies(conn: psycopg.Connection) -> dict[int, int]:
    return dict(conn.execute("SELECT nominee_id, votes FROM tallies").fetchall())


def exact_counts(conn: psycopg.Connection) -> dict[int, int]:
    """What the tallies must say: the counted votes not invalidated (demo-seeded ones too)."""
    return dict(
        conn.execute(
            "SELECT t.nominee_id, count(v.vote_id) FROM tallies t LEFT JOIN votes v"
            " ON v.nominee_id = t.nominee_id AND v.counted AND v.invalidation_id IS NULL"
            " GROUP BY 1"
        ).fetchall()
    )


@pytest.fixture
def conn(demo):
    with psycopg.connect(demo, autocommit=True) as conn:
        yield conn


def test_a_burst_trips_flags_with_evidence_and_grows_without_duplicates(conn, demo):
    store(conn, votes_from(demo, 25, ip="bot-ip", subnet="bot-net", ua="bot-ua"))
    store(conn, votes_from(demo, 10, ip="fan-ip", subnet="bot-net", ua="phone-ua", nominee=1))
    store(conn, votes_from(demo, 5, ip="quiet", subnet="home", ua="phone-ua"))

    first = detection.detect(conn, datetime.now(UTC), LIMITS)
    store(conn, votes_from(demo, 5, ip="bot-ip", subnet="bot-net", ua="bot-ua"))
    second = detection.detect(conn, datetime.now(UTC), LIMITS)
    again = detection.detect(conn, datetime.now(UTC), LIMITS)

    # The IP (25 >= 20) trips; the subnet (35 < 50 per nominee, 40 < 45 new voters) does not.
    assert sorted((kind, tripped) for _, kind, _, tripped in first) == [("ip", True)]
    assert [(kind, tripped) for _, kind, _, tripped in second] == [("ip", False)]
    assert again == []  # unchanged counts are not rewritten
    flag = conn.execute(
        "SELECT kind, subject, vote_count, threshold, window_seconds, cardinality(sample_vote_ids),"
        " last_vote_at >= first_vote_at FROM fraud_flags"
    ).fetchall()
    assert flag == [("ip", "bot-ip", 30, 20, 60, 10, True)]


def test_new_voter_rate_and_subnet_flags_challenge_that_network(conn, demo, redis_url):
    store(conn, votes_from(demo, 45, ip="a", subnet="campus", ua="x", nominee=0))
    store(conn, votes_from(demo, 10, ip="b", subnet="campus", ua="y", nominee=0))
    flags = detection.detect(conn, datetime.now(UTC), LIMITS)
    kinds = sorted(kind for _, kind, _, _ in flags)
    assert kinds == ["ip", "new_voters", "subnet"]

    with redis.Redis.from_url(redis_url) as r:
        detection.challenge_flagged(r, flags, 60)
        assert r.exists(suspect_key("subnet", "campus")) and r.exists(suspect_key("ip", "a"))
        assert not r.exists(suspect_key("ip", "b"))


def test_the_scheduler_job_runs_detection_on_its_cadence(conn, demo, redis_url):
    store(conn, votes_from(demo, 30, ip="bot", subnet="net", ua="ua"))
    values = {**settings.DEFAULTS, "DETECT_PER_IP": 20, "DETECT_EVERY_SECONDS": 2}
    with redis.Redis.from_url(redis_url) as r:
        job = detection.job(values, r)
        now = datetime.now(UTC)
        tick = now.replace(second=now.second // 2 * 2, microsecond=0)
        assert job(conn, tick + timedelta(seconds=0.5), tick + timedelta(seconds=1)) == set()
        assert conn.execute("SELECT count(*) FROM fraud_flags").fetchone()[0] == 0
        job(conn, tick - timedelta(seconds=0.25), tick)
        assert conn.execute("SELECT count(*) FROM fraud_flags").fetchone()[0] == 1
        assert r.exists(suspect_key("ip", "bot"))


def test_invalidating_a_flag_lowers_tallies_exactly_and_undo_restores_them(conn, demo):
    store(conn, votes_from(demo, 30, ip="bot", subnet="net", ua="bot-ua", nominee=0))
    store(conn, votes_from(demo, 7, ip="fan", subnet="net", ua="phone", nominee=0))
    store(conn, votes_from(demo, 4, ip="fan2", subnet="other", ua="phone", nominee=1))
    before = tallies(conn)
    [(flag_id, *_)] = detection.detect(conn, datetime.now(UTC), LIMITS)

    inv_id, count, categories = invalidation.invalidate(
        conn, EDITOR, invalidation.for_flag(conn, flag_id), "one IP, 30 votes in a minute"
    )

    after = tallies(conn)
    [category] = categories
    assert count == 30
    assert sum(before.values()) - sum(after.values()) == 30
    assert after == exact_counts(conn)
    marked = conn.execute("SELECT count(*) FROM votes WHERE invalidation_id = %s", (inv_id,))
    assert marked.fetchone()[0] == 30
    audit = conn.execute(
        "SELECT editor_email, action, detail->>'votes', detail->>'reason' FROM audit_log"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audit == (EDITOR["email"], "invalidate votes", "30", "one IP, 30 votes in a minute")
    rate = fraud_rate(conn, minutes=5)
    assert rate["invalidated_votes_per_minute"] == 30 / 5
    assert rate["flagged_votes_per_minute"] == 30 / 5

    # The same selection again finds nothing new; then undo puts every vote back.
    _, none_left, _ = invalidation.invalidate(
        conn, EDITOR, invalidation.for_flag(conn, flag_id), "again"
    )
    restored, _ = invalidation.undo(conn, EDITOR, inv_id, "reviewed: a watch party")
    assert none_left == 0 and restored == 30
    assert tallies(conn) == before == exact_counts(conn)
    assert fraud_rate(conn)["invalidated_votes_per_minute"] == 0
    with pytest.raises(invalidation.NothingToDo):
        invalidation.undo(conn, EDITOR, inv_id, "twice")
    assert category > 0


def test_invalidating_a_ua_hash_in_a_time_range_needs_a_reason(conn, demo):
    store(conn, votes_from(demo, 12, ip="p", subnet="q", ua="headless", nominee=2))
    store(conn, votes_from(demo, 3, ip="p", subnet="q", ua="phone", nominee=2))
    now = datetime.now(UTC)
    selection = invalidation.Selection(
        kind="ua", subject="headless", start=now - timedelta(minutes=5), end=now + timedelta(1)
    )
    before = tallies(conn)

    with pytest.raises(invalidation.NothingToDo):
        invalidation.invalidate(conn, EDITOR, selection, "   ")
    _, count, _ = invalidation.invalidate(conn, EDITOR, selection, "headless browser")

    assert count == 12
    assert sum(before.values()) - sum(tallies(conn).values()) == 12
    assert tallies(conn) == exact_counts(conn)
    assert conn.execute("SELECT count(*) FROM fraud_invalidations").fetchone()[0] == 1


def test_an_invalidation_in_a_final_category_publishes_a_new_root_and_undo_another(conn, demo):
    store(conn, votes_from(demo, 4, ip="r", subnet="s", ua="bot", nominee=1))
    category, _, _ = ballot_ids(demo, "breakthrough-artist")
    first = tally_proof.publish_root(conn, category, "final")  # the category is final
    now = datetime.now(UTC)
    selection = invalidation.Selection(
        kind="ip", subject="r", start=now - timedelta(minutes=5), end=now + timedelta(1)
    )

    inv_id, count, _ = invalidation.invalidate(conn, EDITOR, selection, "one bot")
    invalidation.undo(conn, EDITOR, inv_id, "it was a watch party")

    roots = tally_proof.roots(conn, category)
    assert count == 4 and len(roots) == 3
    by_reason = {r["reason"]: r for r in roots}
    assert by_reason["invalidated: one bot"]["tree_size"] == first["tree_size"] - 4
    assert by_reason["invalidation undone: it was a watch party"]["tree_size"] == first["tree_size"]
