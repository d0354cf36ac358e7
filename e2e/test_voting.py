"""A fan votes through the edge, with JavaScript (htmx swaps) and without (303 to the receipt)."""

from __future__ import annotations

import re
import urllib.parse

import pytest
import redis
from playwright.sync_api import Browser, Page, Route, expect

from e2e import pages

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


BUSY = '<p class="notice error">We\'re very busy right now.</p>'


class BusyEdge:
    """Stands in for a saturated edge: answers the first `busy` vote posts 503 + Retry-After.

    `forward_first` sends the first post on to ingest for real and hides its answer, as when a
    vote was queued but its 202 was lost on the way. Every post's press key is recorded, and
    whether it said it was a resend (X-Vote-Resend, which gives it the edge's resend lane).
    """

    def __init__(self, busy: int, *, retry_after: str = "1", forward_first: bool = False) -> None:
        self.busy = busy
        self.retry_after = retry_after
        self.forward_first = forward_first
        self.presses: list[str] = []
        self.resends: list[bool] = []
        self.hidden_answers: list[str] = []

    def __call__(self, route: Route) -> None:
        form = urllib.parse.parse_qs(route.request.post_data or "")
        self.presses.append(form.get("press", [""])[0])
        self.resends.append(route.request.headers.get("x-vote-resend") == "1")
        if len(self.presses) > self.busy:
            route.continue_()
            return
        if self.forward_first and len(self.presses) == 1:
            # Playwright's fetch drops the browser's Sec-Fetch-Site; send what Chromium sent.
            headers = {**route.request.all_headers(), "sec-fetch-site": "same-origin"}
            self.hidden_answers.append(route.fetch(headers=headers).text())
        headers = {"Retry-After": self.retry_after, "Content-Type": "text/html"}
        route.fulfill(status=503, headers=headers, body=BUSY)


def enhanced_category(page: Page, base_url: str, edge: BusyEdge) -> pages.CategoryPage:
    """The category page with htmx running and the vote posts going through `edge`."""
    page.route("**/votes", edge)
    category = pages.CategoryPage(page, base_url)
    category.open("breakthrough-artist")
    category.wait_until_enhanced()
    return category


def test_with_javascript_a_busy_answer_is_retried_and_then_shows_the_receipt(page: Page, base_url):
    edge = BusyEdge(busy=1)
    category = enhanced_category(page, base_url, edge)

    category.vote_for("Nova Reyes")

    expect(category.vote_outcome).to_contain_text(re.compile(r"Busy — trying again in \d+ s"))
    expect(category.vote_outcome).to_contain_text("Your vote for Nova Reyes is in", timeout=10_000)
    assert len(edge.presses) == 2
    assert re.fullmatch(r"[0-9a-f]{32}", edge.presses[0]) and edge.presses[1] == edge.presses[0]
    assert edge.resends == [False, True]


def test_with_javascript_a_resend_of_a_queued_vote_shows_its_one_receipt(page: Page, base_url):
    edge = BusyEdge(busy=1, forward_first=True)
    category = enhanced_category(page, base_url, edge)

    category.vote_for("The Lantern Kids")

    expect(category.vote_outcome).to_contain_text(
        "Your vote for The Lantern Kids is in", timeout=10_000
    )
    first = re.search(r'class="vote-receipt">([0-9a-f-]{36})<', edge.hidden_answers[0]).group(1)
    expect(category.receipt).to_have_text(first)  # the same vote, not a second one


def test_with_javascript_it_stops_after_a_few_tries_and_says_so(page: Page, base_url):
    edge = BusyEdge(busy=100, retry_after="0")
    category = enhanced_category(page, base_url, edge)

    category.vote_for("Mira Sol")

    expect(category.vote_outcome).to_contain_text("Still busy after 4 tries", timeout=15_000)
    assert len(edge.presses) == 4 and len(set(edge.presses)) == 1
    assert edge.resends == [False, True, True, True]


def test_without_javascript_the_503_page_keeps_the_vote_to_send_again(
    browser: Browser, base_url, stack_redis
):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        category = pages.CategoryPage(page, base_url)
        category.open("breakthrough-artist")
        with redis.Redis.from_url(stack_redis.url) as r:
            r.config_set("maxmemory", 1)  # Redis refuses every write: ingest answers 503
            try:
                category.vote_for("Juno Park")
                refused = pages.VoteRefusedPage(page, base_url)
                expect(refused.heading).to_have_text("Your vote wasn't taken")
                expect(refused.main).to_contain_text("try again in a few seconds")
                expect(refused.again_form).to_be_visible()
            finally:
                r.config_set("maxmemory", 0)

        refused.send_again()

        expect(page).to_have_url(re.compile(r"/votes/[0-9a-f-]{36}$"))
        expect(page.locator("main")).to_contain_text("Your vote for Juno Park")
    finally:
        context.close()
