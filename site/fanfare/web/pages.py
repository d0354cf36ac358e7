"""Fan pages: identical for everyone, rendered from PostgreSQL and cached at the edge."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, make_response, render_template
from flask.wrappers import Response

from fanfare.content import catalog
from fanfare.edge import keys
from fanfare.http import i18n
from fanfare.http.cache_policy import FAN_PAGE, cacheable
from fanfare.votes.ballot import seconds_until

bp = Blueprint("pages", __name__)


def _expires_in(categories: list[dict]) -> float | None:
    """Seconds until the first of these categories changes state by the clock."""
    at = catalog.now()
    moments = [c["next_transition"] for c in categories if c["next_transition"]]
    return seconds_until(min(moments), at) if moments else None


def _page(template: str, tags: list[str], shown: list[dict], **context) -> Response:
    """Render a fan page under the fan-page policy, capped by the next transition of `shown`."""
    response = make_response(render_template(template, **context))
    tags = i18n.page_keys(tags)
    return cacheable(response, FAN_PAGE, tags, expires_in=_expires_in(shown))


@bp.get("/")
def home() -> Response:
    """The event home: every category and where its vote stands."""
    event = catalog.current_event(i18n.content_language())
    if event is None:
        return _page("pages/empty.html", keys.home_page(None, ()), [])
    categories = catalog.categories(event["id"], i18n.content_language())
    tags = keys.home_page(event["id"], (c["id"] for c in categories))
    return _page("pages/home.html", tags, categories, event=event, categories=categories)


@bp.get("/awards/<slug>")
def category(slug: str) -> Response:
    """A category: its nominees and, while the window is open, the vote form."""
    found = catalog.category(slug, i18n.content_language())
    if found is None:
        abort(404)
    nominees = catalog.nominees(found["id"], i18n.content_language())
    tags = keys.category_page(found["id"], (n["id"] for n in nominees))
    return _page("pages/category.html", tags, [found], category=found, nominees=nominees)


@bp.get("/nominees/<slug>")
def nominee(slug: str) -> Response:
    """A nominee's page: photo, bio and a way to vote."""
    found = catalog.nominee(slug, i18n.content_language())
    if found is None:
        abort(404)
    category = catalog.category_by_id(found["category_id"], i18n.content_language())
    if category is None:
        abort(404)
    tags = keys.nominee_page(found["id"], category["id"])
    return _page("pages/nominee.html", tags, [category], nominee=found, category=category)


@bp.get("/history")
def history() -> Response:
    """Past winners of every closed category."""
    winners = catalog.winners(i18n.content_language())
    tags = keys.history_page(w["category_id"] for w in winners)
    response = make_response(render_template("pages/history.html", winners=winners))
    # A new winner appears when the next window closes or a scheduled reveal comes.
    expires_in = seconds_until(catalog.next_history_change(), catalog.now())
    tags = i18n.page_keys(tags)
    return cacheable(response, FAN_PAGE, tags, expires_in=expires_in)


def init_app(app: Flask) -> None:
    """Register the fan pages."""
    app.register_blueprint(bp)
    # The same routes under every other language's prefix: /es/awards/<slug>, ...
    app.register_blueprint(bp, url_prefix="/<lang:lang>", name=f"{bp.name}_in_language")
