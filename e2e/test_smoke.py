"""Smoke: a fan opens the home page in Chromium, through the edge."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.fan


def test_home_page_shows_the_categories_without_console_errors(page: Page, base_url: str):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    response = page.goto(base_url + "/")

    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Fan Awards 2026")
    expect(page.locator(".categories .card")).to_have_count(4)
    expect(page.get_by_role("link", name="Breakthrough Artist")).to_be_visible()
    page.wait_for_function("window.htmx !== undefined")
    assert errors == []
