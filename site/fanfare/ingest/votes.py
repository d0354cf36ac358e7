"""POST /votes: the only PostgreSQL-free write path of the site.

The order of checks is the issue's: origin (security.py, before any of this), voter cookie, rate
limits, the cached ballot, then the quota and XADD in one Redis script. Every answer is a small
fragment (HX-Request) or page, `private, no-store`, and never a 202 unless Redis took the vote.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, request
from flask.wrappers import Response

from fanfare.http.cache_policy import POLL_SECONDS
from fanfare.http.ratelimit import client_ip, client_subnet, limiter
from fanfare.infra import redis_client
from fanfare.ingest import ballot_cache, gate, receipts, voters
from fanfare.ingest.answers import Problem, answer, install, wants_fragment
from fanfare.votes.ballot import Reason, judge
from fanfare.votes.stream import KEEP_SECONDS, Vote, VoteQueue, server_time, uuid7

bp = install(Blueprint("votes", __name__))
QUEUE = "fanfare.vote_queue"
REASON_STATUS = {
    Reason.UNKNOWN_CATEGORY: 422,
    Reason.UNKNOWN_NOMINEE: 422,
    Reason.NOT_OPEN: 409,
    Reason.CLOSED: 409,
    Reason.OVER_QUOTA: 409,
}


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
def _remember(response: Response) -> Response:
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
    quota_ttl = int((verdict.window.closes_at - at).total_seconds()) + KEEP_SECONDS
    admission = gate.admit(category_id, nominee_id, verdict.window.id, quota_ttl)
    if admission.challenge:
        return gate.challenged(admission.challenge, rules)
    vote = Vote(
        vote_id=uuid7(),
        category_id=category_id,
        nominee_id=nominee_id,
        window_id=verdict.window.id,
        voter_id=voters.voter_id(),
        ip_hash=voters.ip_hash(),
        cast_at=at,
        subnet_hash=gate.subnet_hash(),
        ua_hash=gate.ua_hash(),
        new_voter=voters.is_new(),
        challenge_solved=admission.solved,
    )
    queue: VoteQueue = current_app.extensions[QUEUE]
    queued, receipt = queue.enqueue(vote, max_votes=rules.max_votes_per_voter, quota_ttl=quota_ttl)
    if not queued:
        raise Problem(409, Reason.OVER_QUOTA, rules=rules, earlier=receipt)
    if not wants_fragment():
        return redirect(f"/votes/{receipt}", code=303)
    return answer(
        "vote_receipt",
        202,
        receipt=receipt,
        rules=rules,
        nominee=rules.nominees[nominee_id],
        poll_seconds=POLL_SECONDS,
    )


def init_app(app: Flask) -> None:
    """Register the vote routes, their limits, the cached ballot and the vote queue."""
    ballot_cache.init_app(app)
    gate.init_app(app)
    app.extensions[QUEUE] = VoteQueue(redis_client.gatherer(app))
    app.register_blueprint(bp)
    app.register_blueprint(receipts.bp)
