"""A vote whose script ran but whose reply was lost: ingest answers 503, and the resend of the
same press, whatever cookie it carries, answers the first send's receipt and is counted once.

Seen in `make chaos` smoke runs: Redis was killed after the enqueue script had run, ingest
answered 503, and the fan's resend came without a cookie (a 503 sets none), so as a new voter.
Here a real Redis sits behind a proxy (reply_cutter.py) that delivers the EVALSHA and cuts the
connection when its reply comes back, every time while armed (redis-py's own retries included).
"""

from __future__ import annotations

import re

import psycopg
import pytest
from edge_http import open_vote, post_vote, wait_until
from reply_cutter import ReplyCutter

from fanfare.ingest.voters import COOKIE, _signer_for
from fanfare.votes.stream import STREAM
from harness.process import wait_http
from harness.stack import SECRET_KEY

HX = {"HX-Request": "true"}
RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')
PRESS_FIELD = re.compile(r'name="press" value="([A-Za-z0-9_-]+)"')
OPEN_LIMITS = {f"FANFARE_VOTE_LIMIT_PER_{s}": "1000/minute" for s in ("IP", "SUBNET", "VOTER")}


def stored(database_url: str, category: int) -> dict[str, bool]:
    """The category's votes of non-demo voters: vote id -> counted."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT vote_id::text, counted FROM votes WHERE category_id = %s"
            " AND voter_id NOT LIKE 'demo-%%'",
            (category,),
        ).fetchall()
    return dict(rows)


def tally(database_url: str, category: int) -> int:
    with psycopg.connect(database_url) as conn:
        (total,) = conn.execute(
            "SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %s", (category,)
        ).fetchone()
    return int(total)


@pytest.fixture
def cut_stack(make_stack, demo, redis_url, redis_server):
    """Ingest reaching Redis through the cutter; the writer straight to Redis."""
    with ReplyCutter(redis_server.port) as cutter:
        ingest = make_stack(demo, cutter.url, "ingest", **OPEN_LIMITS)
        make_stack(demo, redis_url, "worker")
        yield cutter, ingest.url("ingest")


def test_a_resend_after_a_lost_reply_answers_the_same_receipt(cut_stack, demo, redis_server):
    cutter, ingest = cut_stack
    form = open_vote(demo)
    category = form["category"]
    before = tally(demo, category)
    # A first vote loads the script into Redis (a NOSCRIPT reply must not be the one cut).
    status, _, body = post_vote(ingest, {**form, "press": "warm-up-press-0123456789abcdef"}, HX)
    assert status == 202
    warm_up = RECEIPT.search(body).group(1)
    with redis_server.client() as redis:
        queued_before = redis.xlen(STREAM)

        # htmx: the script runs, its reply is lost, the fan sees 503 with Retry-After.
        press = {**form, "press": "lost-reply-press-0123456789abcdef"}
        cutter.cutting = b"EVALSHA"
        status, headers, _ = post_vote(ingest, press, HX)
        assert status == 503 and headers.get("Retry-After")
        assert cutter.cut >= 1
        assert redis.xlen(STREAM) == queued_before + 1  # the vote is queued all the same

        # Without JS: the same, and the 503 page offers the vote again with its press key.
        status, _, page = post_vote(ingest, form)
        assert status == 503
        (no_js_press,) = PRESS_FIELD.findall(page)
        assert redis.xlen(STREAM) == queued_before + 2
        cutter.cutting = None

        # The resends: no cookie (a 503 sets none), then another voter's cookie.
        other = {"Cookie": f"{COOKIE}={_signer_for(SECRET_KEY).sign('someone-else').decode()}"}
        answers = [post_vote(ingest, press, HX), post_vote(ingest, press, {**HX, **other})]
        assert [status for status, _, _ in answers] == [202, 202]
        receipts = {RECEIPT.search(body).group(1) for _, _, body in answers}
        assert len(receipts) == 1
        status, headers, _ = post_vote(ingest, {**form, "press": no_js_press})
        assert status == 303
        no_js_receipt = headers["Location"].rsplit("/", 1)[-1]
        assert redis.xlen(STREAM) == queued_before + 2  # no resend queued anything new

    expected = {warm_up, *receipts, no_js_receipt}
    wait_until(lambda: expected <= stored(demo, category).keys(), timeout=30)
    votes = stored(demo, category)
    assert set(votes) == expected and all(votes.values())
    assert tally(demo, category) == before + 3


@pytest.fixture
def edge_over_cutter(make_stack, demo, redis_url):
    """The whole vote path, with the edge reaching ingest through the cutter."""
    stack = make_stack(demo, redis_url, "web", "ingest", "worker", **OPEN_LIMITS)
    with ReplyCutter(stack.ports["ingest"]) as cutter:
        edge_env = {"FANFARE_INGEST_PORT": str(cutter.port)}
        stack.spawn("edge", ["bash", "-c", stack.commands["edge"]], env=edge_env)
        wait_http(stack.url("edge") + "/healthz", timeout=30)
        yield cutter, stack.url("edge")


def test_the_edges_own_resend_of_a_vote_whose_answer_was_lost_counts_once(edge_over_cutter, demo):
    """Varnish resends a request once when a reused connection dies before the answer. A vote
    without a press key (no JavaScript) then carries the edge's fetch id, the same both times,
    and the resend answers the first send's receipt."""
    cutter, edge = edge_over_cutter
    form = open_vote(demo)
    category = form["category"]
    before = tally(demo, category)
    # The first vote opens the edge's connection to ingest, which the edge keeps for the next.
    status, headers, _ = post_vote(edge, form)
    assert status == 303
    first = headers["Location"].rsplit("/", 1)[-1]

    cutter.cutting, cutter.max_cuts = b"POST /VOTES", 1
    status, headers, _ = post_vote(edge, form)
    assert cutter.cut == 1  # ingest queued it and answered; the answer died on the way
    assert status == 303  # the edge's resend, on a fresh connection, got the receipt
    second = headers["Location"].rsplit("/", 1)[-1]

    wait_until(lambda: {first, second} <= stored(demo, category).keys(), timeout=30)
    votes = stored(demo, category)
    assert set(votes) == {first, second} and all(votes.values())
    assert tally(demo, category) == before + 2
