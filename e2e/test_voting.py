"""A fan votes through the edge, with JavaScript (htmx swaps) and without (303 to the receipt)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.fan, pytest.mark.local_only]


class CategoryPage:
    """The category page: pick a nominee, press Vote, read the answer and the results."""

    def __init__(self, page: Page, base_url: str, slug: str) -> None:
        self.page = page
        self.url = f"{base_url}/awards/{slug}"

    def open(self) -> CategoryPage:
        self.page.goto(self.url)
        return self

    def vote_for(self, nominee: str) -> None:
        form = self.page.locator("form.vote-form")
        form.get_by_label(nominee).check()
        form.get_by_role("button", name=re.compile(r"^Vote")).click()

    def outcome(self):
        return self.page.locator("#vote-outcome")

    def votes_for(self, nominee_slug: str):
        return self.page.locator(f'#results [data-nominee="{nominee_slug}"]')


def votes_shown(locator) -> int:
    return int(locator.get_attribute("data-votes"))


def test_with_javascript_the_receipt_swaps_in_and_results_show_the_vote(page: Page, base_url):
    category = CategoryPage(page, base_url, "breakthrough-artist").open()
    page.wait_for_function("window.htmx !== undefined")
    before = votes_shown(category.votes_for("kai-okonkwo"))

    category.vote_for("Kai Okonkwo")

    expect(category.outcome()).to_contain_text("Your vote for Kai Okonkwo is in")
    expect(category.outcome().locator(".vote-receipt")).to_have_text(re.compile(r"[0-9a-f-]{36}"))
    assert page.url == category.url  # no navigation: htmx swapped the fragment in
    # One poll (every 5 s) later the island shows it; allow one poll plus the edge's 2 s.
    expect(category.votes_for("kai-okonkwo")).to_have_attribute(
        "data-votes", str(before + 1), timeout=9_000
    )


def test_with_javascript_a_second_vote_shows_the_earlier_receipt(page: Page, base_url):
    category = CategoryPage(page, base_url, "breakthrough-artist").open()
    page.wait_for_function("window.htmx !== undefined")
    category.vote_for("Mira Sol")
    expect(category.outcome()).to_contain_text("Your vote for Mira Sol is in")

    category.vote_for("Juno Park")

    expect(category.outcome()).to_contain_text("already used your vote")


def test_without_javascript_303_to_a_receipt_that_turns_counted(browser: Browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        statuses: list[int] = []
        page.on(
            "response",
            lambda r: statuses.append(r.status) if r.request.method == "POST" else None,
        )
        category = CategoryPage(page, base_url, "breakthrough-artist").open()

        category.vote_for("Static Bloom")

        expect(page).to_have_url(re.compile(r"/votes/[0-9a-f-]{36}$"))
        assert statuses == [303]
        expect(page.get_by_role("heading", level=2)).to_have_text(re.compile("Queued|Counted"))
        # The queued page refreshes itself (meta refresh) until the worker has stored the vote.
        expect(page.get_by_role("heading", level=2)).to_have_text("Counted", timeout=10_000)
        expect(page.locator("main")).to_contain_text("Your vote for Static Bloom")
    finally:
        context.close()


def test_vote_form_fits_a_320_px_screen(browser: Browser, base_url):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        CategoryPage(page, base_url, "breakthrough-artist").open()

        overflow = page.evaluate("document.documentElement.scrollWidth")
        button = page.locator("form.vote-form").get_by_role("button", name=re.compile("^Vote"))
        box = button.bounding_box()
    finally:
        context.close()

    assert overflow <= 320
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert box["height"] >= 44
