"""The results island and its no-JS page: counts from `tallies`, cached at the edge for seconds.

While a category can still change, the island carries its own hx-get/hx-trigger so htmx polls it;
once the window is final it comes back without a trigger and polling stops by itself.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, make_response, render_template
from flask.wrappers import Response

from fanfare.content import catalog
from fanfare.edge import keys
from fanfare.http import i18n
from fanfare.http.cache_policy import POLL_SECONDS, RESULTS, cacheable
from fanfare.http.errors import service_unavailable
from fanfare.infra import db
from fanfare.votes.ballot import WindowState, seconds_until

bp = Blueprint("fragments", __name__)


def results_context(category: dict) -> dict:
    """What templates/fragments/results.html needs for one category."""
    live = category["state"] not in (WindowState.CLOSED, WindowState.NONE)
    return {
        "category": category,
        "results": catalog.results(category["id"]) if category["results_visible"] else [],
        "live": live,
        "poll_seconds": POLL_SECONDS,
    }


def _render(template: str, slug: str) -> Response:
    """Render the island or the page for a category under the RESULTS policy."""
    category = catalog.category(slug)
    if category is None:
        abort(404)
    response = make_response(render_template(template, **results_context(category)))
    expires_in = seconds_until(category["next_transition"], catalog.now())
    tags = i18n.page_keys(keys.results_page(category["id"]))
    return cacheable(response, RESULTS, tags, expires_in=expires_in)


@bp.get("/fragments/awards/<slug>/results")
def results_fragment(slug: str) -> Response:
    """The polled island."""
    return _render("fragments/results.html", slug)


@bp.get("/awards/<slug>/results")
def results_page(slug: str) -> Response:
    """The full results page: the no-JS way to follow the vote."""
    return _render("pages/results.html", slug)


@bp.errorhandler(db.DatabaseError)
def _results_unavailable(exc: Exception) -> Response:
    """PostgreSQL is down: a short 503 the edge answers with its stale copy (stale-if-error)."""
    return service_unavailable(render_template("fragments/results_unavailable.html"), exc)


def init_app(app: Flask) -> None:
    """Register the results routes; the category page includes the island too."""
    app.jinja_env.globals["results_context"] = results_context
    app.register_blueprint(bp)
    # The same routes under every other language's prefix: /es/awards/<slug>, ...
    app.register_blueprint(bp, url_prefix="/<lang:lang>", name=f"{bp.name}_in_language")
