"""On a slow-3G phone connection the category page shows its content in under 3 s."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import CDPSession, Page, expect

from e2e.pages import CategoryPage

pytestmark = [pytest.mark.fan, pytest.mark.slow_network]

SLUG = "breakthrough-artist"
KBPS = 400
RTT_MS = 400
BUDGET_S = 3.0
FCP_MS = "performance.getEntriesByName('first-contentful-paint')[0].startTime"


def throttle(cdp: CDPSession) -> None:
    """Chromium's own network emulation: 400 kbit/s each way and 400 ms added per request."""
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": RTT_MS,
            "downloadThroughput": KBPS * 1000 / 8,
            "uploadThroughput": KBPS * 1000 / 8,
        },
    )


def test_category_page_shows_content_within_3_s_on_slow_3g(
    page: Page, cdp: CDPSession, fan_context, base_url: str, fan_report
):
    # Given an edge that already holds the page and its assets (another fan loaded it) ...
    warm = fan_context().new_page()
    CategoryPage(warm, base_url).open(SLUG)
    warm.context.close()
    # ... and a phone with an empty cache on a slow connection,
    throttle(cdp)
    category = CategoryPage(page, base_url)

    started = time.monotonic()
    response = category.open(SLUG, wait_until="commit")
    expect(category.heading).to_be_visible(timeout=10_000)
    expect(category.nominees.first).to_be_visible(timeout=10_000)
    page.wait_for_function(
        "() => performance.getEntriesByName('first-contentful-paint').length > 0",
        timeout=10_000,
    )
    visible_s = time.monotonic() - started
    fcp_s = page.evaluate(FCP_MS) / 1000

    fan_report.add(
        "slow network (400 kbit/s, 400 ms RTT)",
        f"/awards/{SLUG}: first contentful paint {fcp_s:.2f} s, "
        f"nominees visible after {visible_s:.2f} s "
        f"(edge: X-Cache {response.headers.get('x-cache', 'not sent') if response else '?'})",
    )
    assert fcp_s < BUDGET_S
    assert visible_s < BUDGET_S
