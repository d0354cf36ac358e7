"""The results island and its no-JS page: counts from `tallies`, cached at the edge for seconds.

While a category can still change, the island carries its own hx-get/hx-trigger so htmx polls it:
while voting, while the close is being counted ("Counting…") and while on_cue results wait for
their reveal. Once settled it comes back without a trigger, polling stops by itself, and the edge
keeps it long (the final purge, a new root or an editor's change refresh it).
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, make_response, render_template
from flask.wrappers import Response

from fanfare.content import catalog
from fanfare.edge import keys
from fanfare.http import i18n
from fanfare.http.cache_policy import FINAL_RESULTS, POLL_SECONDS, RESULTS, cacheable
from fanfare.http.errors import service_unavailable
from fanfare.infra import db
from fanfare.votes.ballot import WindowState, seconds_until

bp = Blueprint("fragments", __name__)


def results_context(category: dict) -> dict:
    """What the results templates (island, page, overlay, embed) need for one category."""
    visible = category["results_visible"]
    hidden_turnout = not visible and category.get("show_turnout")
    return {
        "category": category,
        "results": catalog.results(category["id"], i18n.content_language()) if visible else [],
        "turnout": catalog.turnout(category["id"]) if hidden_turnout else None,
        "roots": catalog.roots(category["id"]) if category["final"] and visible else [],
        "live": category["state"] is not WindowState.NONE and not category["settled"],
        "poll_seconds": POLL_SECONDS,
    }


def render_results(template: str, slug: str) -> Response:
    """Render a results view of a category: RESULTS while it can change, FINAL_RESULTS after."""
    category = catalog.category(slug, i18n.content_language())
    if category is None:
        abort(404)
    response = make_response(render_template(template, **results_context(category)))
    tags = i18n.page_keys(keys.results_page(category["id"]))
    if category["settled"]:
        return cacheable(response, FINAL_RESULTS, tags)
    expires_in = seconds_until(category["next_transition"], catalog.now())
    return cacheable(response, RESULTS, tags, expires_in=expires_in)


@bp.get("/fragments/awards/<slug>/results")
def results_fragment(slug: str) -> Response:
    """The polled island."""
    return render_results("fragments/results.html", slug)


@bp.get("/awards/<slug>/results")
def results_page(slug: str) -> Response:
    """The full results page: the no-JS way to follow the vote."""
    return render_results("pages/results.html", slug)


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
