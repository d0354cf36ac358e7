"""A challenged vote in a real browser: solved in a Web Worker with JS, a time lock without.

The local stack's new-voter budget is large (every browser here comes from 127.0.0.1), so these
tests flag 127.0.0.1 the way detection does: with the suspect key, every new voter from it is
challenged. Those are exactly the fans past the budget behind a shared IP.
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


def solved_in_db(stack_db, receipt: str) -> bool | None:
    row = stack_db.execute(
        "SELECT challenge_solved FROM votes WHERE vote_id = %s", (receipt,)
    ).fetchone()
    return None if row is None else row["challenge_solved"]


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
    receipt = category.receipt_id()
    for _ in range(100):  # the writer stores it within a second or so
        solved = solved_in_db(stack_db, receipt)
        if solved is not None:
            break
        page.wait_for_timeout(100)
    assert solved is True


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
