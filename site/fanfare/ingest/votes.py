"""POST /votes and GET /votes/<receipt>: the only PostgreSQL-free write path of the site.

The order of checks is the issue's: origin (security.py, before any of this), voter cookie, rate
limits, the cached ballot, then the quota and XADD in one Redis script. Every answer is a small
fragment (HX-Request) or page, `private, no-store`, and never a 202 unless Redis took the vote.
"""

from __future__ import annotations

import uuid

import psycopg
import redis
from flask import Blueprint, Flask, current_app, g, redirect, render_template, request
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from limits.errors import StorageError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from fanfare.http import i18n
from fanfare.http.cache_policy import POLL_SECONDS, PRIVATE
from fanfare.http.errors import service_unavailable
from fanfare.http.ratelimit import client_ip, client_subnet, limiter
from fanfare.infra import db, redis_client, sql
from fanfare.ingest import ballot_cache, voters
from fanfare.votes.ballot import Ballot, Reason, judge
from fanfare.votes.stream import KEEP_SECONDS, Vote, VoteQueue, receipt_key, server_time, uuid7

bp = Blueprint("votes", __name__)
Q = sql.queries("votes")
QUEUE = "fanfare.vote_queue"
REASON_STATUS = {
    Reason.UNKNOWN_CATEGORY: 422,
    Reason.UNKNOWN_NOMINEE: 422,
    Reason.NOT_OPEN: 409,
    Reason.CLOSED: 409,
    Reason.OVER_QUOTA: 409,
}


class Problem(HTTPException):
    """A refused vote: its status, a reason code for the template, and what it concerned."""

    def __init__(self, code: int, reason: str, **context: object) -> None:
        super().__init__()
        self.code = code
        self.reason = reason
        self.context = context


def _wants_fragment() -> bool:
    return request.headers.get("HX-Request") == "true"


def _render(template: str, status: int, **context: object) -> str:
    """The fragment for htmx, or the same fragment inside a full page for a plain form post."""
    fragment = render_template(f"fragments/{template}.html", **context)
    if _wants_fragment():
        return fragment
    return render_template("pages/vote.html", fragment=Markup(fragment), status=status, **context)


def _answer(template: str, status: int, **context: object) -> Response:
    """An answer of the vote path, as a fragment or a page."""
    response = current_app.make_response((_render(template, status, **context), status))
    response.mimetype = "text/html"
    return response


def _limit(name: str):
    return lambda: current_app.config[name]


def _form_id(name: str) -> int:
    """A positive integer form field, or 400."""
    raw = request.form.get(name, "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) > 0):
        raise Problem(400, "malformed")
    return int(raw)


@bp.before_request
def _identify() -> None:
    if request.method == "POST":
        voters.identify()


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return voters.remember(response)


@bp.post("/votes")
@limiter.limit(_limit("VOTE_LIMIT_PER_IP"), key_func=client_ip)
@limiter.limit(_limit("VOTE_LIMIT_PER_SUBNET"), key_func=client_subnet)
@limiter.limit(_limit("VOTE_LIMIT_PER_VOTER"), key_func=voters.voter_id)
def cast() -> Response:
    """Judge the vote against the cached ballot, then queue it within the voter's quota."""
    category_id, nominee_id = _form_id("category"), _form_id("nominee")
    ballot = ballot_cache.ballot()
    at = server_time()
    verdict = judge(ballot, category_id, nominee_id, at)
    rules = ballot.categories.get(category_id)
    if verdict.reason is not None:
        raise Problem(REASON_STATUS[verdict.reason], verdict.reason, rules=rules)
    assert rules is not None and verdict.window is not None
    vote = Vote(
        vote_id=uuid7(),
        category_id=category_id,
        nominee_id=nominee_id,
        window_id=verdict.window.id,
        voter_id=voters.voter_id(),
        ip_hash=voters.ip_hash(),
        cast_at=at,
    )
    queue: VoteQueue = current_app.extensions[QUEUE]
    quota_ttl = int((verdict.window.closes_at - at).total_seconds()) + KEEP_SECONDS
    queued, receipt = queue.enqueue(vote, max_votes=rules.max_votes_per_voter, quota_ttl=quota_ttl)
    if not queued:
        raise Problem(409, Reason.OVER_QUOTA, rules=rules, earlier=receipt)
    if not _wants_fragment():
        return redirect(i18n.lang_path(f"/votes/{receipt}"), code=303)
    return _answer(
        "vote_receipt",
        202,
        receipt=receipt,
        rules=rules,
        nominee=rules.nominees[nominee_id],
        poll_seconds=POLL_SECONDS,
    )


def _names(category_id: int, nominee_id: int) -> tuple[str | None, str | None]:
    """Category and nominee names from the cached ballot, if it can be had."""
    try:
        ballot: Ballot = ballot_cache.ballot()
    except (db.DatabaseError, psycopg.OperationalError, redis.RedisError):
        return None, None
    rules = ballot.categories.get(category_id)
    if rules is None:
        return None, None
    return rules.name, rules.nominees.get(nominee_id)


def _status_from_db(vote_id: uuid.UUID) -> dict | None:
    with db.connection() as conn:
        row = conn.execute(Q.receipt_status, (vote_id,)).fetchone()
    if row is None:
        return None
    return {
        "state": "counted" if row["counted"] else "rejected",
        "reason": row["reject_reason"],
        "category_id": row["category_id"],
        "nominee_id": row["nominee_id"],
    }


@bp.get("/votes/<receipt>")
@bp.get("/<lang:lang>/votes/<receipt>")
def receipt(receipt: str) -> Response:
    """Queued, counted, or not counted with the reason: from Redis, else PostgreSQL."""
    try:
        vote_id = uuid.UUID(receipt)
    except ValueError:
        raise Problem(404, "no_receipt") from None
    found = redis_client.client().hgetall(receipt_key(str(vote_id)))
    if found:
        status = {
            "state": found.get(b"s", b"queued").decode(),
            "reason": found[b"r"].decode() if b"r" in found else None,
            "category_id": int(found.get(b"c", 0)),
            "nominee_id": int(found.get(b"n", 0)),
        }
    else:
        status = _status_from_db(vote_id)
        if status is None:
            raise Problem(404, "no_receipt")
    category, nominee = _names(status["category_id"], status["nominee_id"])
    return _answer(
        "receipt_status",
        200,
        receipt=str(vote_id),
        category=category,
        nominee=nominee,
        **status,
    )


@bp.errorhandler(HTTPException)
def _refused(exc: HTTPException) -> Response:
    """Every refusal as a friendly fragment or page with its status code."""
    reason = exc.reason if isinstance(exc, Problem) else str(exc.code)
    context = exc.context if isinstance(exc, Problem) else {}
    g.vote_refusal = "rate_limited" if isinstance(exc, RateLimitExceeded) else reason  # metrics
    response = _answer("vote_problem", exc.code or 400, reason=reason, **context)
    if isinstance(exc, RateLimitExceeded):
        response.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
    return response


@bp.errorhandler(redis.RedisError)
@bp.errorhandler(StorageError)
@bp.errorhandler(db.DatabaseError)
@bp.errorhandler(psycopg.OperationalError)
def _unavailable(exc: Exception) -> Response:
    """Redis (queue or limiter) or, with no ballot yet, PostgreSQL is down: 503, never 202."""
    g.vote_refusal = "unavailable"  # counted by fanfare.http.metrics
    return service_unavailable(_render("vote_problem", 503, reason="unavailable"), exc)


def init_app(app: Flask) -> None:
    """Register the vote routes, their limits, the cached ballot and the vote queue."""
    ballot_cache.init_app(app)
    app.extensions[QUEUE] = VoteQueue(redis_client.gatherer(app))
    app.register_blueprint(bp)
