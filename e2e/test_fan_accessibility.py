"""axe-core (from npm, injected into the page) finds no serious or critical violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from e2e.pages import FanPage

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


@pytest.mark.parametrize("kind", PAGES)
def test_fan_page_has_no_serious_or_critical_accessibility_violations(
    page: Page, base_url: str, axe_source: str, fan_report, kind: str
):
    fan_page = FanPage(page, base_url)
    response = fan_page.visit(PAGES[kind])
    assert response is not None and response.status == 200

    violations = axe_violations(page, axe_source)

    by_impact = {}
    for violation in violations:
        by_impact[violation["impact"]] = by_impact.get(violation["impact"], 0) + 1
    counts = ", ".join(f"{by_impact.get(i, 0)} {i}" for i in IMPACTS)
    fan_report.add("accessibility (axe-core violations)", f"{PAGES[kind]:<42} {counts}")
    for violation in violations:
        fan_report.add(
            "accessibility (axe-core violations)",
            f"    {violation['impact']}: {violation['id']} ({violation['help']})"
            f" at {violation['nodes']}",
        )
    assert [v for v in violations if v["impact"] in BLOCKING] == []
