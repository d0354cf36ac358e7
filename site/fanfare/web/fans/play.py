"""The prediction rounds page (cached at the edge) and the prediction POST (Redis only).

POST /account/predictions/<round> follows the vote's path: judged against the round state cached
in Redis by the server clock, queued in the round's Redis hash, answered at once. PostgreSQL is
written by the scheduler's job, which judges the prediction again by its timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fanfare.content import catalog
from fanfare.edge import keys
from fanfare.fans import sessions
from fanfare.http import i18n
from fanfare.http.cache_policy import FAN_PAGE, cacheable
from fanfare.infra import db, redis_client
from fanfare.predictions import queue, rounds
from fanfare.predictions.rules import Refusal, judge, next_change, parse_choice, state
from fanfare.votes.ballot import seconds_until
from fanfare.web.fans import session

bp = Blueprint("play", __name__)
# The prediction POST reads the fan cookie, so it lives under /account (fans/__init__.py).
private = Blueprint("predict", __name__, url_prefix="/account")
QUEUE = "fanfare.predictions.queue"
STATUS = {
    Refusal.UNKNOWN_ROUND: 404,
    Refusal.LOCKED: 409,
    Refusal.SUSPENDED: 409,
    Refusal.BAD_CHOICE: 422,
}
# What the fan reads for each refusal, in the page's language.
MESSAGES = {
    Refusal.UNKNOWN_ROUND: _l("That prediction round does not exist."),
    Refusal.LOCKED: _l("Predictions for this round are locked."),
    Refusal.SUSPENDED: _l("Predictions are suspended for a moment. Try again shortly."),
    Refusal.BAD_CHOICE: _l("Choose one of the options (for a top 3, three different ones)."),
}


@bp.get("/predictions")
def predictions() -> Response:
    """Every round of the current event with its state and form; identical for every fan."""
    event = catalog.current_event(i18n.content_language())
    if event is None:
        abort(404)
    now = datetime.now(UTC)
    with db.connection() as conn:
        listed = rounds.listed(conn, event["id"])
        judged = rounds.load(conn, [r["id"] for r in listed])
    for row in listed:
        row["state"] = state(judged[row["id"]], now)
    moments = [m for r in judged.values() if (m := next_change(r, now))]
    response = make_response(render_template("fans/predictions.html", event=event, rounds=listed))
    expires_in = seconds_until(min(moments), now) if moments else None
    tags = i18n.page_keys(keys.predictions_page(event["id"]))
    return cacheable(response, FAN_PAGE, tags, expires_in=expires_in)


def _answer(status: int, message: str, round_id: int) -> Response:
    """The htmx fragment, or for a plain form the account page's flash via a redirect."""
    if request.headers.get("HX-Request") == "true":
        body = render_template("fans/_prediction_result.html", ok=status < 300, message=message)
        return make_response(body, status)
    if status < 300:
        return redirect(i18n.lang_path(f"/account?saved={round_id}#round-{round_id}"), 303)
    body = render_template("fans/prediction_problem.html", message=message)
    return make_response(body, status)


def _queue() -> queue.PredictionQueue:
    """The process's one prediction queue over its Gatherer, made on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if QUEUE not in app.extensions:
        app.extensions[QUEUE] = queue.PredictionQueue(redis_client.gatherer(app))
    return app.extensions[QUEUE]


@private.post("/predictions/<int:round_id>")
def predict(round_id: int) -> Response:
    """Accept or refuse one prediction, exactly by the lock: no PostgreSQL write here."""
    now = datetime.now(UTC)  # taken first: the moment the request is judged at
    token = session.token()
    if not token:
        return _answer(401, _("Please sign in to predict."), round_id)
    predictions_queue = _queue()
    raw_fan, raw_round = predictions_queue.lookup(sessions.key(token), round_id)
    if raw_fan is None:
        return _answer(401, _("Please sign in to predict."), round_id)
    round_ = queue.cached_round(redis_client.client(), round_id, db.connection, raw_round)
    choice = None
    if round_ is not None:
        choice = parse_choice(
            round_.kind, request.form.getlist("option"), request.form.get("number")
        )
    refusal = judge(round_, choice, now)
    if refusal is not None:
        return _answer(STATUS[refusal], str(MESSAGES[refusal]), round_id)
    assert round_ is not None and choice is not None
    predictions_queue.submit(round_id, int(raw_fan), choice, now)
    return _answer(202, _("Saved. You can change it until the round locks."), round_id)
