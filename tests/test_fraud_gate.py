"""The new-voter budget, the vote limits' challenge and the challenge itself, in-process
against real PostgreSQL and Redis, with the default budgets and vote limits."""

from __future__ import annotations

import html
import json
import re
import time

import pytest
import redis

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.settings import DEFAULTS
from fanfare.votes.stream import STREAM, decode
from tests.challenges import pow_of, solve, solved, timelock_of
from tests.test_ingest import HX, ids

BUDGET_IP, BUDGET_SUBNET = 5, 50
LIMIT_IP = 60  # VOTE_LIMIT_PER_IP: past it every vote from the IP is challenged


# Cheap challenges and a one-second time lock; the budgets and vote limits are the defaults.
GATE_SETTINGS = {
    "CHALLENGE_COST": 1,
    "CHALLENGE_MAX_NUMBER": 200,
    "TIMELOCK_SECONDS": 1,
}


@pytest.fixture
def ingest(demo, redis_url, app_settings):
    app = create_ingest_app(app_settings(demo, redis_url, **GATE_SETTINGS))
    yield app
    db.close(app)


@pytest.fixture
def category(demo) -> tuple[int, list[int]]:
    return ids(demo, "breakthrough-artist")


def post(client, ip: str, form: dict, *, fragment: bool = True, ua: str = "test-phone"):
    """One POST /votes from ip (the edge's X-Forwarded-For), as htmx or a plain form."""
    headers = {"X-Forwarded-For": ip, "User-Agent": ua, **(HX if fragment else {})}
    return client.post("/votes", data=form, headers=headers)


def queued(redis_url: str) -> list:
    with redis.Redis.from_url(redis_url) as r:
        return [decode(fields) for _, fields in r.xrange(STREAM)]


def test_a_cookieless_bot_from_one_ip_gets_only_the_budget_queued(ingest, category, redis_url):
    category_id, nominees = category
    answers = [
        post(ingest.test_client(), "203.0.113.7", {"category": category_id, "nominee": nominees[0]})
        for _ in range(BUDGET_IP + 20)
    ]

    assert [a.status_code for a in answers] == [202] * BUDGET_IP + [200] * 20
    challenged = answers[-1]
    assert "Set-Cookie" not in challenged.headers  # a challenged post mints no identity
    assert challenged.headers["Cache-Control"] == "private, no-store"
    body = challenged.get_data(as_text=True)
    assert "press Vote again in 1 s" in body and "vote-receipt" not in body
    votes = queued(redis_url)
    assert len(votes) == BUDGET_IP
    assert all(v.new_voter and not v.challenge_solved for v in votes)
    assert len({v.subnet_hash for v in votes}) == 1 and "203.0.113" not in votes[0].subnet_hash
    assert votes[0].ua_hash and votes[0].ua_hash != votes[0].ip_hash


def test_a_returning_fan_is_never_challenged(ingest, demo):
    song, song_nominees = ids(demo, "song-of-the-year")  # three votes per fan
    fan = ingest.test_client()
    first = post(fan, "198.51.100.9", {"category": song, "nominee": song_nominees[0]})
    assert first.status_code == 202
    for _ in range(BUDGET_IP):  # other fans use up the rest of the IP's budget
        post(ingest.test_client(), "198.51.100.9", {"category": song, "nominee": song_nominees[0]})

    again = post(fan, "198.51.100.9", {"category": song, "nominee": song_nominees[1]})

    assert again.status_code == 202


def test_the_budget_costs_a_new_voter_no_round_trip_of_its_own(ingest, category):
    category_id, nominees = category
    stats = ingest.extensions["fanfare.metrics"]
    before = stats.get("gather_commands", 0)
    form = {"category": category_id, "nominee": nominees[0]}

    answers = [post(ingest.test_client(), "192.0.2.80", form).status_code for _ in range(8)]

    assert answers == [202] * BUDGET_IP + [200] * 3
    assert stats["gather_commands"] - before == 8  # one enqueue script per vote, challenged too


def test_the_defaults_are_what_these_tests_assume(ingest):
    for name in ("NEW_VOTER_BUDGET_PER_IP", "NEW_VOTER_BUDGET_PER_SUBNET", "VOTE_LIMIT_PER_IP"):
        assert ingest.config[name] == DEFAULTS[name]
    assert (BUDGET_IP, BUDGET_SUBNET) == (DEFAULTS["NEW_VOTER_BUDGET_PER_IP"], 50)
    assert DEFAULTS["VOTE_LIMIT_PER_IP"] == f"{LIMIT_IP}/minute"
    assert DEFAULTS["VOTE_LIMIT_PER_SUBNET"] == "600/minute"


def test_200_fans_behind_one_shared_ip_are_all_counted(ingest, demo, category, redis_url):
    """A stadium NAT with the default limits: past the budget, and past the IP's vote limit,
    each fan solves the proof of work; nobody is refused, everybody is counted. Each then votes
    in a second category with its cookie: past the IP's limit, challenged too, and counted."""
    category_id, nominees = category
    song, song_nominees = ids(demo, "song-of-the-year")
    first, second = {"category": category_id, "nominee": nominees[1]}, {"category": song}
    answers: list[int] = []
    for n in range(200):
        fan = ingest.test_client()  # its own cookie jar
        for form in (first, {**second, "nominee": song_nominees[n % len(song_nominees)]}):
            answer = post(fan, "192.0.2.44", form)
            answers.append(answer.status_code)
            if answer.status_code == 200:
                answer = post(fan, "192.0.2.44", {**form, "altcha": solved(answer)})
            assert answer.status_code == 202, answer.get_data(as_text=True)
            if form is first:  # a new voter: its cookie comes with the vote that queued it
                assert "fanfare_voter=" in answer.headers["Set-Cookie"]

    # The first BUDGET_IP new voters pass; past them every new voter is challenged, and once
    # the IP has posted LIMIT_IP votes this minute every returning fan is challenged too.
    assert answers[0 : 2 * BUDGET_IP : 2] == [202] * BUDGET_IP
    assert set(answers[2 * BUDGET_IP :: 2]) == {200}
    assert set(answers[2 * LIMIT_IP + 1 :: 2]) == {200}
    votes = queued(redis_url)
    assert len(votes) == 400 and len({v.voter_id for v in votes}) == 200  # cookies kept
    assert sum(v.challenge_solved for v in votes) == answers.count(200) > 200


def test_a_replayed_solution_is_refused(ingest, category, redis_url):
    category_id, nominees = category
    form = {"category": category_id, "nominee": nominees[0]}
    for _ in range(BUDGET_IP):
        post(ingest.test_client(), "192.0.2.50", form)
    challenge = pow_of(post(ingest.test_client(), "192.0.2.50", form).get_data(as_text=True))
    payload = solve(challenge)

    first = post(ingest.test_client(), "192.0.2.50", {**form, "altcha": payload})
    again = post(ingest.test_client(), "192.0.2.50", {**form, "altcha": payload})

    assert first.status_code == 202
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    assert len(queued(redis_url)) == BUDGET_IP + 1


def test_a_spliced_or_rebound_solution_is_refused(ingest, category, demo, redis_url):
    category_id, nominees = category
    other_id, other_nominees = ids(demo, "song-of-the-year")
    form = {"category": category_id, "nominee": nominees[0]}
    for _ in range(BUDGET_IP):
        post(ingest.test_client(), "192.0.2.60", form)
    one = pow_of(post(ingest.test_client(), "192.0.2.60", form).get_data(as_text=True))
    two = pow_of(post(ingest.test_client(), "192.0.2.60", form).get_data(as_text=True))
    solution = json.loads(__import__("base64").b64decode(solve(one)))
    # Splice: one challenge's solution under another's signed parameters, or edited parameters.
    spliced = {"challenge": two, "solution": solution["solution"]}
    rebound = json.loads(json.dumps(solution))
    rebound["challenge"]["parameters"]["data"] = {"category": str(other_id)}
    forms = [
        {**form, "altcha": _b64(spliced)},
        {"category": other_id, "nominee": other_nominees[0], "altcha": solve(one)},
        {"category": other_id, "nominee": other_nominees[0], "altcha": _b64(rebound)},
        {**form, "altcha": "not base64 at all"},
    ]
    answers = [post(ingest.test_client(), "192.0.2.60", f) for f in forms]

    assert [a.status_code for a in answers] == [403, 403, 403, 403]
    assert len(queued(redis_url)) == BUDGET_IP


def _b64(payload: dict) -> str:
    return __import__("base64").b64encode(json.dumps(payload).encode()).decode()


def test_without_js_the_time_lock_ripens_then_counts_once(ingest, category, redis_url):
    category_id, nominees = category
    form = {"category": category_id, "nominee": nominees[2]}
    for _ in range(BUDGET_IP):
        post(ingest.test_client(), "192.0.2.70", form, fragment=False)
    fan = ingest.test_client()
    page = post(fan, "192.0.2.70", form, fragment=False)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    refresh = re.search(r'http-equiv="refresh" content="1; url=([^"]+)"', body).group(1)
    token = timelock_of(body)

    early = post(fan, "192.0.2.70", {**form, "timelock": token}, fragment=False)
    assert early.status_code == 200 and "press Vote again in" in early.get_data(as_text=True)
    time.sleep(1.2)
    ready = fan.get(html.unescape(refresh), headers={"X-Forwarded-For": "192.0.2.70"})
    ready_page = ready.get_data(as_text=True)
    assert ready.status_code == 200 and "Ready: press Vote again" in ready_page
    assert 'http-equiv="refresh"' not in ready_page  # ripe: no more refreshing
    counted = post(fan, "192.0.2.70", {**form, "timelock": token}, fragment=False)
    replay = post(ingest.test_client(), "192.0.2.70", {**form, "timelock": token}, fragment=False)
    stolen = post(ingest.test_client(), "192.0.2.99", {**form, "timelock": token}, fragment=False)

    assert counted.status_code == 303 and counted.headers["Location"].startswith("/votes/")
    assert replay.status_code == 403 and stolen.status_code == 403
    votes = queued(redis_url)
    assert len(votes) == BUDGET_IP + 1 and votes[-1].challenge_solved


def test_with_the_gate_off_nothing_is_challenged_and_the_ip_limit_refuses(
    demo, redis_url, app_settings, category
):
    """FRAUD_GATE off is the behaviour before issue 14 (the bench's "off" arm)."""
    settings = app_settings(demo, redis_url, FRAUD_GATE=False, VOTE_LIMIT_PER_IP="8/minute")
    app = create_ingest_app(settings)
    category_id, nominees = category
    form = {"category": category_id, "nominee": nominees[0]}
    try:
        codes = [post(app.test_client(), "192.0.2.90", form).status_code for _ in range(9)]
    finally:
        db.close(app)

    assert codes == [202] * 8 + [429]  # past the budget of 5 no challenge; past 8, refused
    assert len(queued(redis_url)) == 8
