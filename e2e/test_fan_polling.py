"""The results island polls while voting is live, shows a vote within one poll, then stops."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, Request, expect

from e2e.pages import CategoryPage, ReceiptPage, ResultsPage
from fanfare.votes.backlog import IN_FLIGHT_MS

pytestmark = pytest.mark.fan

FRAGMENT = re.compile(r"/fragments/awards/[^/]+/results$")
COUNTED = re.compile(r"(?<!Not )\bCounted\b")


def fragment_polls(page: Page) -> list[float]:
    """Start recording when the page asks for a results fragment (monotonic seconds)."""
    polls: list[float] = []

    def seen(request: Request) -> None:
        if FRAGMENT.search(request.url.split("?")[0]):
            polls.append(time.monotonic())

    page.on("request", seen)
    return polls


# Counting and the edge purge after it take a moment; the poll after that must show the vote.
SETTLE_S = 2.0


def test_results_show_a_vote_within_one_poll(page: Page, base_url: str, fan_report):
    category = CategoryPage(page, base_url)
    category.open("breakthrough-artist")
    category.wait_until_enhanced()
    results = category.results
    interval = results.poll_seconds()
    assert interval, "a live category's results island must poll"
    # The island embedded in the cached page may be older than the island itself.
    fresh = ResultsPage(page.context.new_page(), base_url)
    fresh.open_island("breakthrough-artist")
    before = fresh.results.votes_of("Juno Park")

    category.vote_for("Juno Park")
    expect(category.confirmation).to_contain_text("Juno Park")
    voted_at = time.monotonic()

    # Results purges are soft (a purge never takes a page down): the first fetch after one may
    # get the grace copy while the edge refetches. Among many fans someone else's poll pays
    # that; a lone poller sees the vote on its next poll, so two polls at most.
    expect(results.entry("Juno Park")).to_have_attribute(
        "data-votes", str(before + 1), timeout=(2 * interval + SETTLE_S) * 1000
    )
    fan_report.add(
        "polling",
        f"vote accepted -> results island showed it after {time.monotonic() - voted_at:.1f} s "
        f"(poll interval {interval:g} s)",
    )
    assert 0 < results.share_of("Juno Park") <= 100
    receipt = ReceiptPage(page, base_url).fetch_text(category.receipt_id())
    assert COUNTED.search(receipt)


@pytest.mark.local_only
def test_polling_stops_once_the_window_is_final(
    page: Page, base_url: str, own_category, stack_db, edge_purge, fan_report
):
    category = CategoryPage(page, base_url)
    category.open(own_category.slug)
    category.wait_until_enhanced()
    interval = category.results.poll_seconds()
    assert interval, "a live category's results island must poll"
    polls = fragment_polls(page)
    page.wait_for_timeout(interval * 1000 + 500)
    assert polls, "the island did not poll while live"

    # When the window closes (the scheduler would purge these keys at that moment) ...
    stack_db.execute(
        "UPDATE voting_windows SET closes_at = now() WHERE category_id = %s", (own_category.id,)
    )
    edge_purge(f"category:{own_category.id}", f"results:{own_category.id}")

    # ... it says "Counting…" until the scheduler finds nothing cast before the close left in
    # the stream (IN_FLIGHT after the close); the poll after that brings markup without a
    # trigger, and nothing polls afterwards.
    expect(category.results.root).not_to_have_attribute(
        "hx-trigger", re.compile(r"every"), timeout=(IN_FLIGHT_MS + 2 * interval * 1000) + 2000
    )
    final_at = time.monotonic()
    page.wait_for_timeout(3 * interval * 1000)
    after = [t for t in polls if t > final_at]
    fan_report.add(
        "polling",
        f"final window: {len(after)} fragment requests in the {3 * interval:g} s "
        f"after the island lost its trigger",
    )
    assert after == []
