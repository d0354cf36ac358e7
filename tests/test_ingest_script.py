"""The one vote script (votes/enqueue.lua): limits, press keys and Redis's clock, in-process."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.infra.gather import Gatherer
from fanfare.ingest import votes
from fanfare.votes.ballot import Window
from fanfare.votes.stream import STREAM, RateLimit, Vote, VoteQueue, parse_limits, uuid7

HX = {"HX-Request": "true"}
RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')
PRESS = "k" * 22


@pytest.fixture
def make_ingest(demo, redis_url, app_settings):
    """An ingest app factory on the demo event; every app is closed after the test."""
    apps = []

    def make(**settings: object):
        limits = {f"VOTE_LIMIT_PER_{s}": "1000/minute" for s in ("IP", "SUBNET", "VOTER")}
        apps.append(create_ingest_app(app_settings(demo, redis_url, **{**limits, **settings})))
        return apps[-1]

    yield make
    for app in apps:
        db.close(app)


@pytest.fixture
def form(demo) -> dict:
    """A vote for the first nominee of the demo's open category."""
    with psycopg.connect(demo) as conn:
        category, nominee = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' ORDER BY n.position LIMIT 1"
        ).fetchone()
    return {"category": category, "nominee": nominee}


def entries(redis_url: str) -> list[dict[bytes, bytes]]:
    with redis.Redis.from_url(redis_url) as r:
        return [fields for _, fields in r.xrange(STREAM)]


def from_ip(address: str) -> dict[str, str]:
    """Headers of a request the edge forwarded for a client at `address` (ProxyFix trusts it)."""
    return {**HX, "X-Forwarded-For": address}


def test_limit_strings_are_parsed_by_the_limits_package():
    assert parse_limits("ip", "60/minute") == (RateLimit("ip", 60, 60),)
    assert parse_limits("voter", "5 per minute; 30 per hour") == (
        RateLimit("voter", 5, 60),
        RateLimit("voter", 30, 3600),
    )


def test_per_ip_limit_counts_new_voters_from_one_address(make_ingest, form, redis_url):
    app = make_ingest(VOTE_LIMIT_PER_IP="2/minute")
    # A new browser (no cookie) each time: only the address ties them together.
    codes = [
        app.test_client().post("/votes", data=form, headers=from_ip("198.51.100.7")).status_code
        for _ in range(3)
    ]
    other = app.test_client().post("/votes", data=form, headers=from_ip("198.51.101.7"))

    assert codes == [202, 202, 429]
    assert other.status_code == 202
    assert len(entries(redis_url)) == 3


def test_per_subnet_limit_spans_the_addresses_of_one_slash_24(make_ingest, form, redis_url):
    app = make_ingest(VOTE_LIMIT_PER_SUBNET="2/minute")
    codes = [
        app.test_client().post("/votes", data=form, headers=from_ip(f"203.0.113.{i}")).status_code
        for i in (1, 2, 3)
    ]
    limited = app.test_client().post("/votes", data=form, headers=from_ip("203.0.113.4"))

    assert codes == [202, 202, 429]
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "wait a minute" in limited.get_data(as_text=True)
    assert len(entries(redis_url)) == 2
    with redis.Redis.from_url(redis_url) as r:
        keys = b" ".join(r.keys("*"))
    assert b"203.0.113" not in keys  # the counters are keyed by hashes, never raw addresses


def test_a_refused_vote_charges_no_limit(make_ingest, form):
    app = make_ingest(VOTE_LIMIT_PER_IP="1/minute", VOTE_LIMIT_PER_VOTER="1/minute")
    fan = app.test_client()
    assert fan.post("/votes", data=form, headers=HX).status_code == 202
    assert fan.post("/votes", data=form, headers=HX).status_code == 429
    # The voter's limit refused it, so the same address's limit was not charged for it either:
    # the limits are all checked before any is counted.
    with redis.Redis.from_url(app.config["REDIS_URL"]) as r:
        counters = {k: int(r.get(k)) for k in r.keys("limit:*")}
    assert sorted(counters.values()) == [1, 1, 1]


def test_a_resend_of_the_same_press_answers_the_same_receipt_once(make_ingest, form, redis_url):
    app = make_ingest()
    fan = app.test_client()
    first = fan.post("/votes", data={**form, "press": PRESS}, headers=HX)
    # The answer was lost with its cookie; the browser resends the press from a fresh state.
    again = app.test_client().post("/votes", data={**form, "press": PRESS}, headers=HX)

    assert first.status_code == again.status_code == 202
    receipt = RECEIPT.search(first.get_data(as_text=True)).group(1)
    assert RECEIPT.search(again.get_data(as_text=True)).group(1) == receipt
    assert "Nova Reyes" in again.get_data(as_text=True)
    assert [e[b"v"].decode() for e in entries(redis_url)] == [receipt]


def test_a_new_press_is_a_new_vote_within_the_quota(make_ingest, form, redis_url):
    fan = make_ingest().test_client()
    fan.post("/votes", data={**form, "press": PRESS}, headers=HX)

    second = fan.post("/votes", data={**form, "press": "n" * 22}, headers=HX)

    assert second.status_code == 409 and "already used your vote" in second.get_data(as_text=True)
    assert len(entries(redis_url)) == 1


@pytest.mark.parametrize("press", ["short", "x" * 65, "no spaces allowed here"])
def test_a_malformed_press_key_is_400(make_ingest, form, press, redis_url):
    response = make_ingest().test_client().post("/votes", data={**form, "press": press})

    assert response.status_code == 400
    assert entries(redis_url) == []


def test_the_cast_time_is_redis_clock(make_ingest, form, redis_url):
    before = datetime.now(UTC)
    assert make_ingest().test_client().post("/votes", data=form, headers=HX).status_code == 202
    with redis.Redis.from_url(redis_url) as r:
        [(entry_id, fields)] = r.xrange(STREAM)
        seconds, micros = r.time()

    cast_ms = int(fields[b"t"])
    redis_ms = seconds * 1000 + micros // 1000
    assert abs(int(entry_id.split(b"-")[0]) - cast_ms) < 1000  # the stream's own clock
    assert cast_ms <= redis_ms and abs(cast_ms - before.timestamp() * 1000) < 5000


def test_an_ingest_clock_off_beyond_the_tolerance_gets_503(
    make_ingest, form, redis_url, monkeypatch
):
    app = make_ingest(VOTE_CLOCK_SKEW_MS=2000)
    # This host's clock runs 10 s behind the shared one (Redis's).
    monkeypatch.setattr(
        votes,
        "server_time",
        lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10),
    )

    response = app.test_client().post("/votes", data=form, headers=HX)

    assert response.status_code == 503 and response.headers["Retry-After"]
    assert entries(redis_url) == []
    assert app.extensions["fanfare.metrics"]["votes_refused_clock_skew"] == 1


def test_a_clock_behind_cannot_slip_a_vote_past_the_close(redis_url):
    """Ingest thinks the window is open (its clock is 500 ms behind); Redis's clock decides."""
    client = redis.Redis.from_url(redis_url)
    gatherer = Gatherer(client)
    queue = VoteQueue(gatherer, max_skew_ms=2000)
    redis_now = datetime.fromtimestamp(client.time()[0], UTC)
    window = Window(7, redis_now - timedelta(hours=1), redis_now - timedelta(milliseconds=200))
    vote = Vote(
        vote_id=uuid7(),
        category_id=1,
        nominee_id=2,
        window_id=7,
        voter_id="voter",
        ip_hash="",
        cast_at=window.closes_at - timedelta(milliseconds=300),
    )
    try:
        outcome = queue.enqueue(vote, press=PRESS, window=window, max_votes=1, limits=[])
    finally:
        client.close()

    assert outcome.kind == "closed" and not outcome.accepted
    assert entries(redis_url) == []


def test_quota_limits_and_xadd_are_one_script_call_per_vote(make_ingest, form):
    app = make_ingest()
    stats = app.extensions["fanfare.metrics"]

    for _ in range(3):
        app.test_client().post("/votes", data=form, headers=HX)

    assert stats["gather_commands"] == 3
