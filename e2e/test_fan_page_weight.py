"""Every fan page is at most 14 KB of compressed HTML; the only JavaScript is htmx and our one
tiny extension (the vote form's retries, at most 1.5 KB compressed)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response

from e2e.pages import CategoryPage, HomePage
from fanfare.http.i18n import LANGUAGES, lang_path

pytestmark = pytest.mark.fan

BUDGET = 14 * 1024  # bytes: what fits in the first round trips of a new TCP connection
HTMX = re.compile(r"/static/vendor/htmx\.min\.[0-9a-f]+\.js$")
VOTE_RETRY = re.compile(r"/static/js/vote-retry\.[0-9a-f]+\.js$")
EXTENSION_BUDGET = 1536  # bytes, compressed: the ceiling for our own JavaScript
CHALLENGE_GLUE = re.compile(r"/static/js/challenge\.[0-9a-f]+\.js$")  # fraud, issue 14


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


def test_the_only_javascript_a_fan_downloads_is_htmx_and_the_vote_extension(
    fan_context, base_url: str, fan_report
):
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
    extension = [r for r in scripts if VOTE_RETRY.search(r.url)]
    assert extension, "the vote form's retry extension was not loaded on the category page"
    size = transferred(extension[0])
    fan_report.add(
        "page weight (HTML as transferred, budget 14.0 KB)",
        f"{'JavaScript (vote retries): vote-retry.js':<42} {size / 1024:5.1f} KB"
        f" {extension[0].headers.get('content-encoding', 'identity')}",
    )
    assert size <= EXTENSION_BUDGET
    ours = (HTMX, VOTE_RETRY, CHALLENGE_GLUE)
    others = {url for url in urls if not any(known.search(url) for known in ours)}
    assert others == set() and any(HTMX.search(url) for url in urls), sorted(urls)
    fan_report.add("page weight (HTML as transferred, budget 14.0 KB)", htmx_line)


def test_every_language_keeps_each_fan_page_at_most_14_kb(fan_context, base_url: str, fan_report):
    """Each kind of page in the ten other languages (longer words, other scripts), plus the
    prediction game's; one line per language in the report: its heaviest page. Kept cheap:
    every category page (the heaviest kind), but one nominee and one results page and island."""
    english = fan_paths(fan_context().new_page(), base_url)
    categories = [path for path in english if path.startswith("/awards/")]
    nominee = next(path for path in english if path.startswith("/nominees/"))
    slug = categories[0].removeprefix("/awards/")
    paths = ["/", "/history", *categories, nominee, f"/awards/{slug}/results"]
    paths += [f"/fragments/awards/{slug}/results", "/predictions", "/leaderboard", "/account"]
    page = fan_context().new_page()
    over: dict[str, int] = {}

    for language in LANGUAGES[1:]:
        sizes = {}
        for path in paths:
            localised = lang_path(path, language)
            response = page.goto(base_url + localised)
            assert response is not None and response.status == 200, localised
            assert response.headers.get("content-encoding") in ("gzip", "br", "zstd"), localised
            if not path.startswith("/fragments/"):  # a fragment has no <html> of its own
                assert f'<html lang="{language.tag}"' in response.text(), localised
            sizes[localised] = transferred(response)
        heaviest = max(sizes, key=sizes.__getitem__)
        fan_report.add(
            "page weight (HTML as transferred, budget 14.0 KB)",
            f"{language.code + ': heaviest of ' + str(len(paths)) + ' pages':<42}"
            f" {sizes[heaviest] / 1024:5.1f} KB  ({heaviest})",
        )
        assert all(size > 0 for size in sizes.values()), sizes
        over.update({path: size for path, size in sizes.items() if size > BUDGET})

    assert over == {}
