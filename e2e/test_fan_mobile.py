"""On small phones the fan pages fit the screen, tap targets are big enough, and voting works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Playwright, expect

from e2e.pages import FanPage, HomePage

pytestmark = pytest.mark.fan

# A 320-px-wide Android phone and an iPhone, emulated in Chromium (viewport, DPR, touch, UA).
PHONES = ["Galaxy S9+", "iPhone 13"]
MIN_TAP = 44  # px, WCAG 2.5.5 and Apple's HIG
OPEN_CATEGORY = "breakthrough-artist"
PAGES = {
    "home": "/",
    "category": f"/awards/{OPEN_CATEGORY}",
    "nominee": "/nominees/nova-reyes",
}


@pytest.fixture(params=PHONES)
def phone(request: pytest.FixtureRequest, playwright: Playwright, fan_context) -> Page:
    """A fresh fan on an emulated phone."""
    return fan_context(**playwright.devices[request.param]).new_page()


def overflow_px(page: Page) -> int:
    """How far the page is wider than the screen: > 0 means horizontal scrolling."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


# WCAG's exception: a link inside a sentence is as tall as the line it sits in.
MEASURE = """els => els.map(e => {
    const r = e.getBoundingClientRect();
    const text = (e.innerText || e.value || e.tagName).trim();
    const around = (e.parentElement.innerText || "").trim();
    return {text: text.slice(0, 40), w: Math.round(r.width), h: Math.round(r.height),
            inSentence: getComputedStyle(e).display === "inline"
                        && around.length > text.length + 2};
})"""


def small_targets(fan_page: FanPage) -> list[str]:
    """Tap targets in the main content smaller than MIN_TAP either way (not counting inline
    links inside a sentence)."""
    boxes = fan_page.tap_targets().evaluate_all(MEASURE)
    return [
        f"{b['text']!r} {b['w']}x{b['h']}"
        for b in boxes
        if min(b["w"], b["h"]) < MIN_TAP and not b["inSentence"]
    ]


@pytest.mark.parametrize("kind", PAGES)
def test_fan_pages_fit_the_phone_with_big_tap_targets(phone: Page, base_url: str, kind: str):
    fan_page = FanPage(phone, base_url)

    response = fan_page.visit(PAGES[kind])

    assert response is not None and response.status == 200
    expect(fan_page.heading).to_be_visible()
    assert overflow_px(phone) <= 0, "the page scrolls sideways"
    assert fan_page.tap_targets().count() > 0
    assert small_targets(fan_page) == []


def test_a_fan_votes_on_a_phone(phone: Page, base_url: str):
    home = HomePage(phone, base_url)
    home.open()
    category = home.open_category("Breakthrough Artist")
    category.wait_until_enhanced()
    expect(category.vote_form).to_be_visible()
    assert overflow_px(phone) <= 0, "the vote form scrolls sideways"
    assert small_targets(category) == []

    category.vote_for("The Lantern Kids")

    expect(category.confirmation).to_contain_text("The Lantern Kids")
    expect(category.receipt).to_be_visible()
    expect(phone).to_have_url(re.compile(rf"/awards/{OPEN_CATEGORY}$"))
    assert overflow_px(phone) <= 0, "the answer to the vote scrolls sideways"
