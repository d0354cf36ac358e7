"""The broadcast overlay and the embeddable widget: framable by configured origins only, small."""

from __future__ import annotations

import gzip

import pytest

from fanfare.app import create_web_app
from fanfare.infra import db

pytestmark = pytest.mark.fan

PARTNERS = "https://partner.example https://studio.example:8443"
FRAMABLE = ["/overlay/awards/best-live-performance", "/embed/awards/best-live-performance"]


@pytest.fixture
def fan(demo, redis_url, app_settings):
    app = create_web_app(app_settings(demo, redis_url, FRAME_ANCESTORS=PARTNERS + " evil;x"))
    yield app.test_client()
    db.close(app)


def frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(d for d in policy.split("; ") if d.startswith("frame-ancestors")).strip()


@pytest.mark.parametrize("url", FRAMABLE)
def test_overlay_and_embed_are_framable_by_the_configured_origins_only(fan, url):
    response = fan.get(url)

    assert response.status_code == 200
    assert frame_ancestors(response) == f"frame-ancestors {PARTNERS}"  # "evil;x" is dropped
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Cache-Control"].startswith("public")
    assert "results:" in response.headers["xkey"] and "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "url", ["/", "/awards/best-live-performance", "/awards/best-live-performance/results",
            "/fragments/awards/best-live-performance/results", "/history", "/admin/login"],
)  # fmt: skip
def test_every_other_page_keeps_frame_ancestors_none_and_deny(fan, url):
    response = fan.get(url)

    assert frame_ancestors(response) == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_without_the_setting_nobody_may_frame_the_overlay(client):
    response = client.get(FRAMABLE[0])
    assert frame_ancestors(response) == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_overlay_is_big_bare_transparent_and_under_4_kb_compressed(fan):
    response = fan.get(FRAMABLE[0])
    html = response.get_data(as_text=True)
    size = len(gzip.compress(response.get_data(), compresslevel=6))
    print(f"\noverlay: {len(html)} bytes HTML, {size} bytes gzipped")

    assert size <= 4096
    assert '<html lang="en" dir="ltr" class="overlay">' in html and "/static/css/overlay." in html
    assert "<nav" not in html and "<header" not in html and "<footer" not in html
    assert 'data-status="final"' in html and "data-votes" in html
    assert "hx-trigger" not in html  # final: nothing left to poll


def test_a_live_overlay_polls_its_board(fan):
    html = fan.get("/overlay/awards/breakthrough-artist").get_data(as_text=True)
    board = fan.get("/overlay/awards/breakthrough-artist/board").get_data(as_text=True)

    assert 'hx-get="/overlay/awards/breakthrough-artist/board"' in html
    assert 'hx-trigger="every 5s"' in html
    assert board.startswith('<section id="board"') and "<html" not in board


def test_the_overlay_css_makes_the_background_transparent(fan):
    html = fan.get(FRAMABLE[0]).get_data(as_text=True)
    href = "/static/css/overlay." + html.split("/static/css/overlay.", 1)[1].split('"')[0]
    with fan.get(href) as response:  # a file response: close it
        css = response.get_data(as_text=True)
    assert "background: transparent" in css
