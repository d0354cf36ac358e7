"""With JavaScript disabled the whole fan journey works: browse, vote, receipt, results."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from e2e.pages import CategoryPage, HomePage, ReceiptPage, ResultsPage

pytestmark = pytest.mark.fan

COUNTED = re.compile(r"(?<!Not )\bCounted\b")


@pytest.fixture
def no_js(fan_context) -> Page:
    """A fresh fan whose browser runs no JavaScript at all."""
    return fan_context(java_script_enabled=False).new_page()


def test_a_fan_without_javascript_browses_home_category_and_nominee(no_js: Page, base_url: str):
    home = HomePage(no_js, base_url)
    home.open()
    expect(home.heading).to_have_text("Fan Awards 2026")

    category = home.open_category("Breakthrough Artist")
    expect(category.heading).to_have_text("Breakthrough Artist")
    expect(category.nominees).to_have_count(6)

    nominee = category.open_nominee("Mira Sol")
    expect(nominee.heading).to_have_text("Mira Sol")
    expect(nominee.main).to_contain_text("grandmother")

    back = nominee.go_vote()
    expect(back.heading).to_have_text("Breakthrough Artist")


def test_a_fan_without_javascript_votes_and_follows_the_receipt_to_the_results(
    no_js: Page, base_url: str
):
    tab = no_js.context.new_page()
    results = ResultsPage(tab, base_url)
    results.open("breakthrough-artist")
    before = results.results.votes_of("Nova Reyes")
    category = CategoryPage(no_js, base_url)
    category.open("breakthrough-artist")

    category.vote_for("Nova Reyes")

    receipt = ReceiptPage(no_js, base_url)
    expect(no_js).to_have_url(re.compile(r"/votes/[^/]+$"))
    receipt_id = receipt.receipt_id
    assert receipt_id
    expect(receipt.status).to_contain_text(re.compile(r"Queued|Counted"))
    expect(receipt.status).to_contain_text("Nova Reyes")
    # The worker stores it within moments; look at it again then, in a fresh tab (the first
    # one may be reloading itself while the vote is queued).
    for _ in range(30):
        if COUNTED.search(receipt.fetch_text(receipt_id)):
            break
        no_js.wait_for_timeout(500)
    later = ReceiptPage(tab, base_url)
    later.open(receipt_id)
    expect(later.status).to_contain_text(COUNTED)
    expect(later.status).to_contain_text("Nova Reyes")

    results.open("breakthrough-artist")
    expect(results.heading).to_contain_text("Breakthrough Artist")
    for _ in range(20):  # the results page is cached at the edge for a couple of seconds
        if results.results.votes_of("Nova Reyes") > before:
            break
        tab.wait_for_timeout(500)
        tab.reload()
    assert results.results.votes_of("Nova Reyes") == before + 1
    assert 0 < results.results.share_of("Nova Reyes") <= 100
