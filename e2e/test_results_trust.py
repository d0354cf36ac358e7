"""Results a fan can trust: keyboard voting, polite announcements, counting then final."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, expect

from e2e.pages import CategoryPage, ResultsPage

pytestmark = pytest.mark.fan

VOTES = re.compile(r"/votes$")


def vote_posts(page: Page) -> list[str]:
    """Record every POST /votes the page sends."""
    posts: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and VOTES.search(request.url.split("?")[0]):
            posts.append(request.url)

    page.on("request", seen)
    return posts


def test_arrow_keys_between_the_radio_buttons_never_submit(page: Page, base_url: str):
    category = enhanced_category(page, base_url, "breakthrough-artist")
    posts = vote_posts(page)

    category.move_between_choices("Nova Reyes", ["ArrowDown", "ArrowDown", "ArrowUp", "ArrowRight"])

    page.wait_for_timeout(700)
    assert posts == []
    expect(category.choice("Nova Reyes")).not_to_be_checked()
    expect(page.locator("form.vote-form input[type=radio]:checked")).to_have_count(1)
    expect(page.locator("#vote-outcome")).to_be_empty()
    expect(page).to_have_url(re.compile(r"/awards/breakthrough-artist$"))


def enhanced_category(page: Page, base_url: str, slug: str) -> CategoryPage:
    """A category page once htmx runs on it."""
    category = CategoryPage(page, base_url)
    category.open(slug)
    category.wait_until_enhanced()
    return category


@pytest.mark.local_only
def test_new_counts_are_announced_politely_and_focus_stays_put(
    page: Page, base_url: str, own_category, stack_db, edge_purge
):
    category = enhanced_category(page, base_url, own_category.slug)
    region = category.results_live_region
    expect(region).to_have_count(1)
    region.evaluate("el => { el.dataset.probe = 'same element' }")
    category.choice(own_category.nominees[1]).focus()

    stack_db.execute(
        "INSERT INTO tallies (category_id, nominee_id, votes)"
        " SELECT category_id, id, 7 FROM nominees WHERE category_id = %s AND position = 0",
        (own_category.id,),
    )
    edge_purge(f"results:{own_category.id}")

    entry = category.results.entry(own_category.nominees[0])
    expect(entry).to_have_attribute("data-votes", "7", timeout=15_000)  # swapped in by a poll
    expect(region).to_have_attribute("data-probe", "same element")  # the region was not replaced
    expect(region).to_have_attribute("aria-live", "polite")
    expect(category.choice(own_category.nominees[1])).to_be_focused()


@pytest.mark.local_only
def test_after_the_close_results_say_counting_then_final(
    page: Page, base_url: str, own_category, stack_db, edge_purge
):
    category = enhanced_category(page, base_url, own_category.slug)

    stack_db.execute(
        "UPDATE voting_windows SET closes_at = now() WHERE category_id = %s", (own_category.id,)
    )
    edge_purge(f"category:{own_category.id}", f"results:{own_category.id}")
    no_js_view = ResultsPage(page.context.new_page(), base_url)
    no_js_view.open_island(own_category.slug)
    expect(no_js_view.results.root).to_have_attribute("data-status", "counting")
    expect(no_js_view.results.root).to_contain_text("Counting…")

    # The scheduler declares it final once nothing cast before the close is left in the stream.
    expect(category.results.root).to_have_attribute("data-status", "final", timeout=20_000)
    expect(category.results.root).to_contain_text("Final results")
    expect(category.results.root).not_to_have_attribute("hx-trigger", re.compile(r"every"))
