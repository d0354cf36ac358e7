"""A resend of one press, through real ingest and the vote writer: one receipt, counted once."""

from __future__ import annotations

import re
import urllib.parse

import psycopg
from edge_http import post_vote, request, wait_until

HX = {"HX-Request": "true"}
RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')
# Many voters' worth of limits: the test is about the press key, not the limits.
OPEN_LIMITS = {f"FANFARE_VOTE_LIMIT_PER_{s}": "1000/minute" for s in ("IP", "SUBNET", "VOTER")}


def open_vote(database_url: str) -> tuple[dict, int]:
    """A vote in the demo's open category, and that category's id."""
    with psycopg.connect(database_url) as conn:
        category, nominee = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' ORDER BY n.position LIMIT 1"
        ).fetchone()
    return {"category": category, "nominee": nominee}, category


def tally(database_url: str, category: int) -> tuple[int, int]:
    """(stored votes of non-demo voters, their tally) in one category."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM votes WHERE category_id = %(c)s"
            "        AND voter_id NOT LIKE 'demo-%%'),"
            " (SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %(c)s)",
            {"c": category},
        ).fetchone()


def test_resends_of_one_press_answer_one_receipt_and_count_once(make_stack, demo, redis_url):
    form, category = open_vote(demo)
    _, before = tally(demo, category)
    stack = make_stack(demo, redis_url, "ingest", "worker", **OPEN_LIMITS)
    press = {**form, "press": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}

    # The first answer (and the cookie it set) is lost; the browser resends the same press,
    # three times over, as a fan on a flaky network would.
    answers = [post_vote(stack.url("ingest"), press, HX) for _ in range(4)]

    assert [status for status, _, _ in answers] == [202] * 4
    receipts = {RECEIPT.search(body).group(1) for _, _, body in answers}
    assert len(receipts) == 1
    (receipt,) = receipts
    path = "/votes/" + urllib.parse.quote(receipt)
    wait_until(
        lambda: "Counted" in request(stack.url("ingest") + path).body, timeout=30, interval=0.2
    )
    stored, counted = tally(demo, category)
    assert stored == 1 and counted == before + 1
