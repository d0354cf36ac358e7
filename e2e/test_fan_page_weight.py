"""Every fan page is at most 14 KB of compressed HTML, and the only JavaScript is htmx."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response

from e2e.pages import CategoryPage, HomePage

pytestmark = pytest.mark.fan

BUDGET = 14 * 1024  # bytes: what fits in the first round trips of a new TCP connection
HTMX = re.compile(r"/static/vendor/htmx\.min\.[0-9a-f]+\.js$")
CHALLENGE_GLUE = re.compile(r"/static/js/challenge\.[0-9a-f]+\.js$")


def fan_paths(page: Page, base_url: str) -> list[str]:
    """Home, history, every category and its first nominee, as the home page links them."""
    home = HomePage(page, base_url)
    home.open()
    paths = ["/", "/history"]
    for slug in home.category_slugs():
        paths.append(f"/awards/{slug}")
        category = CategoryPage(page, base_url)
        category.open(slug)
        paths += [f"/nominees/{nominee}" for nominee in category.nominee_slugs()[:1]]
    return paths


def transferred(response: Response) -> int:
    """Bytes of body that came over the network (compressed), as Chromium counted them."""
    return response.request.sizes()["responseBodySize"]


def weigh(page: Page, base_url: str, paths: list[str], fan_report) -> dict[str, int]:
    """Load each path in a fresh page and record its HTML's transferred size."""
    sizes = {}
    for path in paths:
        response = page.goto(base_url + path)
        assert response is not None and response.status == 200, path
        assert response.headers.get("content-encoding") in ("gzip", "br", "zstd"), path
        sizes[path] = transferred(response)
        fan_report.add(
            "page weight (HTML as transferred, budget 14.0 KB)",
            f"{path:<42} {sizes[path] / 1024:5.1f} KB {response.headers['content-encoding']}"
            f"  ({len(response.body()) / 1024:5.1f} KB raw)",
        )
    return sizes


def test_each_fan_page_is_at_most_14_kb_of_compressed_html(fan_context, base_url: str, fan_report):
    paths = fan_paths(fan_context().new_page(), base_url)
    page = fan_context().new_page()

    sizes = weigh(page, base_url, paths, fan_report)

    assert all(size > 0 for size in sizes.values()), sizes
    assert {path: size for path, size in sizes.items() if size > BUDGET} == {}


def test_results_pages_are_at_most_14_kb_of_compressed_html(fan_context, base_url: str, fan_report):
    home = HomePage(fan_context().new_page(), base_url)
    home.open()
    paths = []
    for slug in home.category_slugs():
        paths += [f"/awards/{slug}/results", f"/fragments/awards/{slug}/results"]
    page = fan_context().new_page()

    sizes = weigh(page, base_url, paths, fan_report)

    assert {path: size for path, size in sizes.items() if size > BUDGET} == {}


def test_the_only_javascript_a_fan_downloads_is_htmx(fan_context, base_url: str, fan_report):
    page = fan_context().new_page()
    scripts: list[Response] = []
    page.on("response", lambda r: r.request.resource_type == "script" and scripts.append(r))
    htmx_line = ""

    for path in ["/", "/awards/breakthrough-artist", "/nominees/nova-reyes", "/history"]:
        page.goto(base_url + path, wait_until="load")
        assert page.locator("script:not([src])").count() == 0, f"inline script on {path}"
        if scripts and not htmx_line:  # a body can only be read before navigating away
            first = scripts[0]
            htmx_line = (
                f"{'JavaScript (htmx only): ' + first.url.rsplit('/', 1)[1]:<42} "
                f"{transferred(first) / 1024:5.1f} KB "
                f"{first.headers.get('content-encoding', 'identity')}"
                f"  ({len(first.body()) / 1024:5.1f} KB raw), then from the browser cache"
            )

    urls = {response.url for response in scripts}
    # Besides htmx, only the category page's small challenge glue (static/js/challenge.js, fraud
    # issue 14), and nothing inline.
    ours = {url for url in urls if CHALLENGE_GLUE.search(url)}
    assert len(urls - ours) == 1 and HTMX.search((urls - ours).pop()), [r.url for r in scripts]
    fan_report.add("page weight (HTML as transferred, budget 14.0 KB)", htmx_line)
