"""POST /feed/rounds: the broadcast rundown's signed, sequence-numbered suspensions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from flask.wrappers import Response

from fanfare.content import after_publish
from fanfare.edge import keys
from fanfare.edge.purge import EXTENSION as PURGER
from fanfare.infra import db, redis_client
from fanfare.predictions import feed, queue, rounds

bp = Blueprint("feed", __name__)
STATUS = {
    feed.Outcome.APPLIED: 200,
    feed.Outcome.DUPLICATE: 200,
    feed.Outcome.OUT_OF_ORDER: 409,
    feed.Outcome.CONFLICT: 409,
    feed.Outcome.INVALID: 422,
}


@bp.post("/feed/rounds")
def receive() -> Response:
    """Verify the signature, apply in order, write the round's new state through to Redis."""
    now = datetime.now(UTC)
    secret = str(current_app.config["FEED_SECRET"])
    if not secret:
        return jsonify(error="the event feed is not configured"), 403  # type: ignore[return-value]
    body = request.get_data(cache=False)
    if not feed.verified(secret, body, request.headers.get("X-Fanfare-Signature")):
        return jsonify(error="bad signature"), 401  # type: ignore[return-value]
    with db.connection() as conn:
        result = feed.apply(conn, body, now)
        changed = rounds.load(conn, [result.round_id]) if result.round_id else {}
    if changed:  # after COMMIT: the request path sees the change at once, not in 2 s
        r = redis_client.client()
        queue.cache_rounds(r, changed)
        after_publish.announce(
            keys.rounds_changed(), purger=current_app.extensions[PURGER], redis_client=r
        )
    payload = {"outcome": result.outcome.value, "expected": result.expected}
    return jsonify(payload), STATUS[result.outcome]  # type: ignore[return-value]
