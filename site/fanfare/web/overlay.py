"""Results for a broadcast screen (/overlay, e.g. an OBS browser source) and partner sites (/embed).

The same results as the island, cached at the edge under the same keys and polled the same way
(the board polls its own URL), but framable by the origins in FRAME_ANCESTORS only: every other
page keeps frame-ancestors 'none' and X-Frame-Options DENY (http/security.py).
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask.wrappers import Response

from fanfare.http.security import framable
from fanfare.web.fragments import render_results

bp = Blueprint("overlay", __name__)


@bp.get("/overlay/awards/<slug>")
def overlay(slug: str) -> Response:
    """Large type on a transparent background, no navigation: for broadcast graphics."""
    return framable(render_results("overlay/overlay.html", slug))


@bp.get("/embed/awards/<slug>")
def embed(slug: str) -> Response:
    """A compact results widget for partner sites' iframes."""
    return framable(render_results("overlay/embed.html", slug))


@bp.get("/overlay/awards/<slug>/board")
def board(slug: str) -> Response:
    """The polled board inside either page."""
    return framable(render_results("overlay/board.html", slug))


def init_app(app: Flask) -> None:
    """Register the overlay and embed routes."""
    app.register_blueprint(bp)
    # A broadcast or partner site in another language: /es/overlay/awards/<slug>, ...
    app.register_blueprint(bp, url_prefix="/<lang:lang>", name=f"{bp.name}_in_language")
