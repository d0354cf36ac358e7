"""The leaderboard and the share cards: cached at the edge, purged by key on each refresh."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template
from flask.wrappers import Response
from flask_babel import gettext as _

from fanfare.content import catalog
from fanfare.edge import keys
from fanfare.http import i18n
from fanfare.http.cache_policy import FAN_PAGE, cacheable
from fanfare.infra import db
from fanfare.predictions import card, leaderboard
from fanfare.web.fans.tiers import tier_of

bp = Blueprint("boards", __name__)
TOP_PLACES = 100


def _board(scope: int, title: str) -> Response:
    with db.connection() as conn:
        rows = leaderboard.top(conn, scope, TOP_PLACES)
    body = render_template("fans/leaderboard.html", rows=rows, title=title, tier_of=tier_of)
    event_id = None if scope == leaderboard.OVERALL else scope
    tags = i18n.page_keys(keys.leaderboard_page(event_id))
    return cacheable(make_response(body), FAN_PAGE, tags)


@bp.get("/leaderboard")
def overall() -> Response:
    """The top fans over every event."""
    return _board(leaderboard.OVERALL, _("Leaderboard"))


@bp.get("/leaderboard/<slug>")
def for_event(slug: str) -> Response:
    """The top fans of one event."""
    event = catalog.current_event(i18n.content_language())
    if event is None or event["slug"] != slug:
        abort(404)
    return _board(event["id"], _("Leaderboard · %(event)s", event=event["name"]))


def _card(public_id: str) -> dict:
    with db.connection() as conn:
        found = leaderboard.card(conn, public_id)
    if found is None:
        abort(404)
    found["tier"] = tier_of(found["points"])
    return found


@bp.get("/fans/<public_id>")
def share_card(public_id: str) -> Response:
    """A fan's rank to share: a cacheable page with an Open Graph image."""
    found = _card(public_id)
    body = render_template("fans/card.html", card=found)
    return cacheable(make_response(body), FAN_PAGE, i18n.page_keys(keys.fan_card_page(public_id)))


@bp.get("/fans/<public_id>/card.png")
def share_image(public_id: str) -> Response:
    """The card's image, drawn on the server (once per purge: the edge keeps it)."""
    found = _card(public_id)
    png = card.render(
        found["nickname"], found["rank"], int(found["points"] or 0), found["fans"], found["tier"]
    )
    response = make_response(png)
    response.mimetype = "image/png"
    return cacheable(response, FAN_PAGE, keys.fan_card_page(public_id))
