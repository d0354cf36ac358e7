"""axe-core (from npm, injected into the page) finds no serious or critical violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from e2e.pages import CategoryPage, FanPage

pytestmark = pytest.mark.fan

IMPACTS = ("critical", "serious", "moderate", "minor")
BLOCKING = {"serious", "critical"}
PAGES = {
    "home": "/",
    "category (open)": "/awards/breakthrough-artist",
    "category (closed)": "/awards/best-live-performance",
    "nominee": "/nominees/nova-reyes",
    "results": "/awards/breakthrough-artist/results",
}
RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
    }));
}"""


def axe_violations(page: Page, axe_source: str) -> list[dict]:
    """Inject axe-core into the loaded page and run every rule it has."""
    # evaluate goes through DevTools, so the site's CSP (script-src 'self') does not block it.
    page.evaluate(axe_source)
    return page.evaluate(RUN_AXE)


def record(fan_report, path: str, violations: list[dict]) -> None:
    """One report line per page, then one per violation."""
    by_impact: dict[str, int] = {}
    for violation in violations:
        by_impact[violation["impact"]] = by_impact.get(violation["impact"], 0) + 1
    counts = ", ".join(f"{by_impact.get(i, 0)} {i}" for i in IMPACTS)
    fan_report.add("accessibility (axe-core violations)", f"{path:<42} {counts}")
    for violation in violations:
        fan_report.add(
            "accessibility (axe-core violations)",
            f"    {violation['impact']}: {violation['id']} ({violation['help']})"
            f" at {violation['nodes']}",
        )


@pytest.mark.parametrize("kind", PAGES)
def test_fan_page_has_no_serious_or_critical_accessibility_violations(
    page: Page, base_url: str, axe_source: str, fan_report, kind: str
):
    fan_page = FanPage(page, base_url)
    response = fan_page.visit(PAGES[kind])
    assert response is not None and response.status == 200

    violations = axe_violations(page, axe_source)
    record(fan_report, PAGES[kind], violations)
    assert [v for v in violations if v["impact"] in BLOCKING] == []


# Arabic (right to left) and Korean: every rule axe has, not only the blocking ones, must pass.
LANGUAGES = ("ar", "ko")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_arabic_and_korean_fan_pages_have_no_accessibility_violations(
    page: Page, base_url: str, axe_source: str, fan_report, lang: str
):
    fan_page = FanPage(page, base_url)
    found = {}
    # The prediction game's pages too; a fan's own pages keep the language after /account.
    paths = [f"/{lang}{path}" for path in [*PAGES.values(), "/predictions", "/leaderboard"]]
    for localised in [*paths, f"/account/{lang}"]:
        response = fan_page.visit(localised)
        assert response is not None and response.status == 200, localised
        found[localised] = axe_violations(page, axe_source)
        record(fan_report, localised, found[localised])
    assert {path: v for path, v in found.items() if v} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_arabic_and_korean_receipts_have_no_accessibility_violations(
    page: Page, base_url: str, axe_source: str, fan_report, own_category, lang: str
):
    category = CategoryPage(page, base_url)
    category.visit(f"/{lang}/awards/{own_category.slug}")
    category.wait_until_enhanced()
    category.vote_in_any_language(own_category.nominees[0])
    receipt_link = category.vote_outcome.locator(f'a[href^="/{lang}/votes/"]')
    receipt_link.wait_for()
    receipt_link.click()
    page.wait_for_url(f"**/{lang}/votes/*")
    assert page.locator("html").get_attribute("lang") == lang

    violations = axe_violations(page, axe_source)

    record(fan_report, f"/{lang}/votes/<receipt>", violations)
    assert violations == []
