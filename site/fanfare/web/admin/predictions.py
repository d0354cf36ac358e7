"""Editors run the prediction game: create rounds, suspend and reopen them, four-eyes results."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask import current_app, g, make_response, redirect, render_template, request
from flask.wrappers import Response
from flask_babel import gettext as _

from fanfare.content import after_publish, catalog
from fanfare.edge import keys
from fanfare.edge.purge import EXTENSION as PURGER
from fanfare.infra import db, redis_client
from fanfare.predictions import queue, rounds, scoring
from fanfare.web.admin.base import bp
from fanfare.web.admin.forms import parse_time


def _page(status: int = 200, **context) -> Response:
    event = catalog.current_event()
    with db.connection() as conn:
        listed = rounds.listed(conn, event["id"]) if event else []
        categories = catalog.categories(event["id"]) if event else []
    body = render_template(
        "admin/predictions.html",
        event=event,
        rounds=listed,
        categories=categories,
        now=datetime.now(UTC),
        **context,
    )
    return make_response(body, status)


def _announce(round_ids: list[int], changed: set[str]) -> None:
    """After COMMIT: the new state to Redis at once, then the edge purge."""
    r = redis_client.client()
    with db.connection() as conn:
        queue.cache_rounds(r, rounds.load(conn, round_ids))
    after_publish.announce(changed, purger=current_app.extensions[PURGER], redis_client=r)


@bp.get("/predictions")
def predictions() -> Response:
    """The current event's rounds, and a form for a new one."""
    return _page()


@bp.post("/predictions")
def create_round() -> Response:
    """A new round: options one per line; a set lock time or the linked category's close."""
    event = catalog.current_event()
    form = request.form
    if event is None:
        return _page(400, error=_("Publish an event first."))
    category_id = int(form["category_id"]) if form.get("category_id") else None
    nominees = {n["name"]: n["id"] for n in catalog.nominees(category_id)} if category_id else {}
    labels = [line.strip() for line in form.get("options", "").splitlines() if line.strip()]
    if category_id and not labels and form.get("kind") != "number":
        labels = list(nominees)  # a linked round offers the category's nominees by default
    try:
        locks_at = parse_time(form.get("locks_at", "")) if form.get("locks_at") else None
        with db.connection() as conn:
            rid = rounds.create(
                conn,
                g.editor,
                event_id=event["id"],
                category_id=category_id,
                question=form.get("question", "").strip() or "?",
                kind=form.get("kind", "pick"),
                points=max(1, min(1000, int(form.get("points") or 10))),
                locks_at=locks_at,
                lock_offset_seconds=int(current_app.config["PREDICTION_LOCK_SECONDS"]),
                options=[(label, nominees.get(label)) for label in labels],
            )
    except (rounds.RoundError, ValueError) as exc:
        return _page(400, error=str(exc))
    _announce([rid], keys.rounds_changed())
    return redirect("/admin/predictions", 303)


@bp.post("/predictions/<int:round_id>/<any(suspend, reopen):action>")
def suspend(round_id: int, action: str) -> Response:
    """Suspend or reopen at once (this very moment); audited."""
    with db.connection() as conn:
        rounds.set_suspended(conn, g.editor, round_id, action == "suspend", datetime.now(UTC))
    _announce([round_id], keys.rounds_changed())
    return redirect("/admin/predictions", 303)


@bp.post("/predictions/<int:round_id>/result")
def enter_result(round_id: int) -> Response:
    """The first editor enters the result."""
    number = None
    try:
        if request.form.get("number"):
            number = Decimal(request.form["number"])
        option_ids = [int(v) for v in request.form.getlist("option") if v]
        with db.connection() as conn:
            rounds.enter_result(
                conn, g.editor, round_id, option_ids=option_ids, number=number,
                now=datetime.now(UTC),
            )  # fmt: skip
    except (rounds.RoundError, ValueError, InvalidOperation) as exc:
        return _page(400, error=str(exc) or _("That result does not fit the round."))
    return redirect("/admin/predictions", 303)


@bp.post("/predictions/<int:round_id>/verify")
def verify_result(round_id: int) -> Response:
    """A second editor verifies; every prediction is scored in one statement, then the board."""
    try:
        with db.connection() as conn:
            rounds.verify_result(conn, g.editor, round_id)
            scoring.score(conn, redis_client.client(), round_id)
    except rounds.RoundError as exc:
        return _page(409, error=str(exc))
    _announce([round_id], keys.rounds_changed() | keys.leaderboard_changed())
    return redirect("/admin/predictions", 303)
