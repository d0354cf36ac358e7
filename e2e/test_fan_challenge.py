"""A challenged vote in a real browser: solved in a Web Worker with JS, a time lock without.

The local stack's new-voter budget is large (every browser here comes from 127.0.0.1), so the
first tests flag 127.0.0.1 the way detection does: with the suspect key, every new voter from it
is challenged. Those are exactly the fans past the budget behind a shared IP. The last ones put
127.0.0.1 at its per-IP vote limit, as a stadium's NAT would be: a returning fan, its cookie
kept, is challenged too, never refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import Page, expect

from e2e.pages import CategoryPage
from fanfare.fraud.budget import suspect_key
from fanfare.fraud.signals import ip_hash
from fanfare.settings import DEFAULTS
from fanfare.votes.stream import limit_key, parse_limits
from harness.stack import SECRET_KEY, Stack

pytestmark = [pytest.mark.fan, pytest.mark.local_only]


@pytest.fixture
def flagged_network(local_stack: Stack) -> Iterator[None]:
    """127.0.0.1 is flagged for the test: its new voters are challenged."""
    key = suspect_key("ip", ip_hash(SECRET_KEY, "127.0.0.1"))
    with redis.Redis.from_url(local_stack.env["REDIS_URL"]) as client:
        client.set(key, "1", ex=300)
        try:
            yield
        finally:
            client.delete(key)


@pytest.fixture
def busy_network(local_stack: Stack) -> Iterator[None]:
    """127.0.0.1 has posted its per-IP vote limit this minute: every vote from it is challenged."""
    [limit] = parse_limits("ip", DEFAULTS["VOTE_LIMIT_PER_IP"])
    key = limit_key(limit, ip_hash(SECRET_KEY, "127.0.0.1"))
    with redis.Redis.from_url(local_stack.env["REDIS_URL"]) as client:
        client.set(key, limit.amount, ex=300)
        try:
            yield
        finally:
            client.delete(key)


def stored(stack_db, receipt: str, page: Page) -> dict:
    """The vote's row, once the writer has stored it (within a second or so)."""
    for _ in range(100):
        row = stack_db.execute(
            "SELECT voter_id, challenge_solved FROM votes WHERE vote_id = %s", (receipt,)
        ).fetchone()
        if row is not None:
            return row
        page.wait_for_timeout(100)
    raise AssertionError(f"vote {receipt} was never stored")


def test_with_javascript_a_challenged_vote_is_solved_and_sent_by_itself(
    fan_context, base_url: str, flagged_network, stack_db
):
    page: Page = fan_context().new_page()
    category = CategoryPage(page, base_url)
    category.open("breakthrough-artist")
    category.wait_until_enhanced()
    answers: list[int] = []
    page.on("response", lambda r: r.url.endswith("/votes") and answers.append(r.status))

    category.vote_form.get_by_label("Mira Sol").check()
    category.vote_form.get_by_role("button", name=re.compile(r"^Vote")).click()

    # The Worker solves the proof of work, the form resends itself: no second press.
    expect(category.confirmation).to_contain_text("Your vote for Mira Sol is in", timeout=45_000)
    assert answers == [200, 202]
    assert stored(stack_db, category.receipt_id(), page)["challenge_solved"] is True


def test_without_javascript_a_challenged_vote_waits_then_counts(
    fan_context, base_url: str, flagged_network
):
    page: Page = fan_context(java_script_enabled=False).new_page()
    category = CategoryPage(page, base_url)
    category.open("breakthrough-artist")

    category.vote_form.get_by_label("Kai Okonkwo").check()
    category.vote_form.get_by_role("button", name=re.compile(r"^Vote")).click()

    wait = page.locator(".vote-wait")
    expect(wait).to_have_text(re.compile(r"press Vote again in \d+ s"))
    # The meta refresh brings the vote back, ready, once the time lock has ripened.
    expect(wait).to_have_text("Ready: press Vote again.", timeout=30_000)
    assert "/votes/challenge?" in page.url
    page.get_by_role("button", name="Vote").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your vote")
    assert re.search(r"/votes/[0-9a-f-]{36}$", page.url)


def test_with_javascript_a_returning_fan_past_the_ip_limit_is_challenged_not_refused(
    fan_context, base_url: str, stack_db, request: pytest.FixtureRequest
):
    page: Page = fan_context().new_page()
    category = CategoryPage(page, base_url)
    category.open("breakthrough-artist")
    category.wait_until_enhanced()
    category.vote_for("Juno Park")
    expect(category.confirmation).to_contain_text("Your vote for Juno Park is in")
    first = category.receipt_id()
    request.getfixturevalue("busy_network")  # now the stadium's NAT is past its limit
    answers: list[int] = []
    page.on("response", lambda r: r.url.endswith("/votes") and answers.append(r.status))

    category.open("song-of-the-year")
    category.wait_until_enhanced()
    category.vote_for("Paper Moons")

    expect(category.confirmation).to_contain_text("Your vote for Paper Moons is in", timeout=45_000)
    assert answers == [200, 202]  # challenged, solved in the Worker, sent again by itself
    second = stored(stack_db, category.receipt_id(), page)
    assert second["challenge_solved"] is True
    assert second["voter_id"] == stored(stack_db, first, page)["voter_id"]  # the same fan


def test_without_javascript_a_returning_fan_past_the_ip_limit_waits_then_counts(
    fan_context, base_url: str, stack_db, request: pytest.FixtureRequest
):
    page: Page = fan_context(java_script_enabled=False).new_page()
    category = CategoryPage(page, base_url)
    category.open("breakthrough-artist")
    category.vote_for("Static Bloom")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your vote")
    first = page.url.rsplit("/", 1)[1]
    request.getfixturevalue("busy_network")

    category.open("song-of-the-year")
    category.vote_for("Saudade FM")
    wait = page.locator(".vote-wait")
    expect(wait).to_have_text(re.compile(r"press Vote again in \d+ s"))
    expect(wait).to_have_text("Ready: press Vote again.", timeout=30_000)
    page.get_by_role("button", name="Vote").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your vote")
    second = stored(stack_db, page.url.rsplit("/", 1)[1], page)
    assert second["challenge_solved"] is True
    assert second["voter_id"] == stored(stack_db, first, page)["voter_id"]
