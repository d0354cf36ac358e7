"""The one vote script (votes/enqueue.lua): limits and their challenge, press keys and Redis's
clock, in-process."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import redis
from edge_http import open_vote

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.infra.gather import Gatherer
from fanfare.ingest import votes
from fanfare.votes.ballot import Window
from fanfare.votes.stream import STREAM, RateLimit, Vote, VoteQueue, parse_limits, uuid7
from tests.challenges import solved
from tests.test_ingest import ids

HX = {"HX-Request": "true"}
RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')
PRESS = "k" * 22


@pytest.fixture
def make_ingest(demo, redis_url, app_settings):
    """An ingest app factory on the demo event; every app is closed after the test."""
    apps = []

    def make(**settings: object):
        limits = {f"VOTE_LIMIT_PER_{s}": "1000/minute" for s in ("IP", "SUBNET", "VOTER")}
        # Cheap challenges; no new-voter budget in the way of the limits' own challenge.
        cheap = {"CHALLENGE_COST": 1, "CHALLENGE_MAX_NUMBER": 200}
        budget = {f"NEW_VOTER_BUDGET_PER_{s}": 10**6 for s in ("IP", "SUBNET")}
        overrides = {**limits, **cheap, **budget, **settings}
        apps.append(create_ingest_app(app_settings(demo, redis_url, **overrides)))
        return apps[-1]

    yield make
    for app in apps:
        db.close(app)


@pytest.fixture
def form(demo) -> dict:
    """A vote for the first nominee of the demo's open category."""
    return open_vote(demo)


def entries(redis_url: str) -> list[dict[bytes, bytes]]:
    with redis.Redis.from_url(redis_url) as r:
        return [fields for _, fields in r.xrange(STREAM)]


def from_ip(address: str) -> dict[str, str]:
    """Headers of a request the edge forwarded for a client at `address` (ProxyFix trusts it)."""
    return {**HX, "X-Forwarded-For": address}


def test_limit_strings_are_parsed_by_the_limits_package():
    assert parse_limits("ip", "60/minute", ceiling_factor=50) == (RateLimit("ip", 60, 60, 3000),)
    assert parse_limits("voter", "5 per minute; 30 per hour") == (
        RateLimit("voter", 5, 60, 5),
        RateLimit("voter", 30, 3600, 30),
    )


def test_past_the_per_ip_limit_votes_are_challenged_and_past_its_ceiling_refused(
    make_ingest, form, redis_url
):
    """A shared NAT: past the limit a solved challenge counts; only the ceiling answers 429."""
    app = make_ingest(VOTE_LIMIT_PER_IP="2/minute", VOTE_LIMIT_CEILING_FACTOR=3)  # ceiling 6

    def vote(extra: dict | None = None):
        # A new browser (no cookie) each time: only the address ties them together.
        headers = from_ip("198.51.100.7")
        return app.test_client().post("/votes", data={**form, **(extra or {})}, headers=headers)

    within = [vote().status_code]
    stats = app.extensions["fanfare.metrics"]
    before = stats["gather_commands"]  # after the first, which may have loaded the script
    within.append(vote().status_code)
    challenged = vote()
    counted = vote({"altcha": solved(challenged)})
    more = [vote() for _ in range(2)]  # challenged: the IP has now posted its ceiling
    refused, refused_solved = vote(), vote({"altcha": solved(more[-1])})
    other = app.test_client().post("/votes", data=form, headers=from_ip("198.51.101.7"))

    assert within == [202, 202]
    assert challenged.status_code == 200 and "Set-Cookie" not in challenged.headers
    assert counted.status_code == 202
    assert [a.status_code for a in more] == [200, 200]
    assert refused.status_code == refused_solved.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert other.status_code == 202
    votes = entries(redis_url)
    assert len(votes) == 4 and [v[b"p"] for v in votes] == [b"0", b"0", b"1", b"0"]
    # One script per post, the challenged and the refused ones too (the Python check of the
    # solution needs no Redis).
    assert stats["gather_commands"] - before == 8


def test_past_the_per_subnet_limit_votes_are_challenged_across_its_addresses(
    make_ingest, form, redis_url
):
    app = make_ingest(VOTE_LIMIT_PER_SUBNET="2/minute", VOTE_LIMIT_CEILING_FACTOR=2)  # ceiling 4

    def vote(address: str, extra: dict | None = None):
        return app.test_client().post(
            "/votes", data={**form, **(extra or {})}, headers=from_ip(address)
        )

    codes = [vote(f"203.0.113.{i}").status_code for i in (1, 2)]
    challenged = vote("203.0.113.3")
    counted = vote("203.0.113.3", {"altcha": solved(challenged)})
    limited = vote("203.0.113.4")

    assert codes == [202, 202] and challenged.status_code == 200 and counted.status_code == 202
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "wait a minute" in limited.get_data(as_text=True)
    assert len(entries(redis_url)) == 3
    with redis.Redis.from_url(redis_url) as r:
        keys = b" ".join(r.keys("*"))
    assert b"203.0.113" not in keys  # the counters are keyed by hashes, never raw addresses


def test_a_returning_fan_past_the_ip_limit_is_challenged_and_still_held_to_quota_and_limit(
    make_ingest, demo, redis_url
):
    """The cookie does not skip the IP's limit; a solution skips neither the voter's limit nor
    the quota."""
    app = make_ingest(VOTE_LIMIT_PER_IP="1/minute", VOTE_LIMIT_PER_VOTER="4/minute")
    song, nominees = ids(demo, "song-of-the-year")  # three votes per fan
    fan = app.test_client()

    def vote(nominee: int, extra: dict | None = None):
        data = {"category": song, "nominee": nominee, **(extra or {})}
        return fan.post("/votes", data=data, headers=from_ip("198.51.100.20"))

    first = vote(nominees[0])  # the IP's one vote this minute
    one, two = vote(nominees[1]), vote(nominees[2])  # both challenged
    second = vote(nominees[1], {"altcha": solved(one)})
    # Four posts by this voter this minute, the challenged ones included: its limit is hard.
    third = vote(nominees[2], {"altcha": solved(two)})

    assert first.status_code == 202 and one.status_code == two.status_code == 200
    assert second.status_code == 202
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0
    votes = entries(redis_url)
    assert len(votes) == 2 and votes[0][b"u"] == votes[1][b"u"]  # the cookie's voter
    assert [v[b"f"] for v in votes] == [b"1", b"0"]  # a new voter, then a returning one


def test_a_solved_challenge_is_still_held_to_the_quota(make_ingest, form, redis_url):
    app = make_ingest(VOTE_LIMIT_PER_IP="1/minute")
    fan = app.test_client()
    assert fan.post("/votes", data=form, headers=HX).status_code == 202
    payload = solved(fan.post("/votes", data=form, headers=HX))

    again = fan.post("/votes", data={**form, "altcha": payload}, headers=HX)

    assert again.status_code == 409 and "already used your vote" in again.get_data(as_text=True)
    assert len(entries(redis_url)) == 1


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


def test_an_ingest_clock_ahead_beyond_the_tolerance_gets_503(
    make_ingest, form, redis_url, monkeypatch
):
    app = make_ingest(VOTE_CLOCK_SKEW_MS=2000)
    # This host's clock runs 10 s ahead of the shared one (Redis's).
    monkeypatch.setattr(votes, "server_time", lambda: datetime.now(UTC) + timedelta(seconds=10))

    response = app.test_client().post("/votes", data=form, headers=HX)

    assert response.status_code == 503 and response.headers["Retry-After"]
    assert entries(redis_url) == []
    assert app.extensions["fanfare.metrics"]["votes_refused_clock_skew"] == 1


def test_an_ingest_clock_behind_is_flagged_and_the_vote_stamped_by_redis(
    make_ingest, form, redis_url, monkeypatch
):
    app = make_ingest(VOTE_CLOCK_SKEW_MS=2000)
    # 10 s behind: the vote waited for nothing like that, so the lag is the clock's.
    monkeypatch.setattr(votes, "server_time", lambda: datetime.now(UTC) - timedelta(seconds=10))

    response = app.test_client().post("/votes", data=form, headers=HX)

    assert response.status_code == 202
    [entry] = entries(redis_url)
    assert abs(int(entry[b"t"]) - datetime.now(UTC).timestamp() * 1000) < 5000  # Redis's clock
    assert app.extensions["fanfare.metrics"]["votes_clock_behind"] == 1


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
