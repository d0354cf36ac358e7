"""POST /votes: the only PostgreSQL-free write path of the site.

The order: origin (security.py, before any of this), admission (admission.py: answer at once
when this worker is past its budget), the form, the voter cookie, the cached ballot, then one
Redis script (votes/enqueue.lua) for the rate limits, the window on Redis's clock, the fraud
gate (gate.py: past a per-IP or per-subnet limit, or the new-voter budget, a challenge), the
quota, the press key and the XADD. Every answer is a small fragment
(HX-Request) or page, `private, no-store`, and never a 202 unless the vote is in the stream.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, Flask, current_app, g, redirect, request
from flask.wrappers import Response
from werkzeug.datastructures import MultiDict

from fanfare.http import bodies, i18n
from fanfare.http.cache_policy import POLL_SECONDS
from fanfare.http.errors import service_unavailable
from fanfare.infra import redis_client
from fanfare.ingest import admission, ballot_cache, gate, receipts, voters
from fanfare.ingest.answers import Problem, install, render, wants_fragment
from fanfare.votes.ballot import Reason, judge
from fanfare.votes.stream import (
    Outcome,
    RateLimit,
    Vote,
    VoteQueue,
    behind_ms,
    parse_limits,
    server_time,
    uuid7,
)

bp = install(Blueprint("votes", __name__))
QUEUE = "fanfare.vote_queue"
LIMITS = "fanfare.vote_limits"
ADMISSION = "fanfare.vote_admission"
RECEIPT_FRAGMENTS = "fanfare.receipt_fragments"
RECEIPT_SLOT = "\x00receipt\x00"  # cannot occur in a rendered name: Jinja output is text
REASON_STATUS = {
    Reason.UNKNOWN_CATEGORY: 422,
    Reason.UNKNOWN_NOMINEE: 422,
    Reason.NOT_OPEN: 409,
    Reason.CLOSED: 409,
    Reason.OVER_QUOTA: 409,
}
# A press key, made by the browser for one press of the Vote button (static/js/vote-retry.js).
PRESS = re.compile(r"[A-Za-z0-9_-]{16,64}")
# The edge's id for one fetch of a vote, the same on its own resend (cdn/routing.vcl).
EDGE_FETCH_ID = "X-Edge-Fetch-Id"


def _form_id(form: MultiDict[str, str], name: str) -> int:
    """A positive integer form field, or 400."""
    raw = form.get(name, "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) > 0):
        raise Problem(400, "malformed")
    return int(raw)


def _press(form: MultiDict[str, str], vote_id: uuid.UUID) -> str:
    """The browser's key for this press; without JS, the edge's id for this fetch, so that the
    edge's own resend of it counts once; straight to ingest, the new vote's own id (random
    enough, and no second draw from the OS). The retry page keeps whichever it is."""
    raw = form.get("press")
    if raw is None:
        fetch_id = request.headers.get(EDGE_FETCH_ID)
        return fetch_id if fetch_id and PRESS.fullmatch(fetch_id) else vote_id.hex
    if not PRESS.fullmatch(raw):
        raise Problem(400, "malformed")
    return raw


def _limits() -> list[tuple[RateLimit, str]]:
    """Every configured vote limit with its subject: this IP, its subnet, this voter."""
    ip, subnet, voter = voters.ip_hash(), voters.subnet_hash(), voters.voter_id()
    subject = {"ip": ip, "subnet": subnet, "voter": voter}
    return [(limit, subject[limit.scope]) for limit in current_app.extensions[LIMITS]]


def _shed() -> Response:
    """Past this worker's budget: 503 at once, a jittered Retry-After, nothing queued."""
    g.vote_refusal = "shed"  # counted by fanfare.http.metrics
    body = render("vote_problem", 503, reason="busy", retry=True)
    response = current_app.make_response((body, 503))
    response.mimetype = "text/html"
    response.headers["Retry-After"] = str(admission.retry_after())
    return response


@bp.after_request
def _remember(response: Response) -> Response:
    """A new voter's cookie rides on whatever the answer is, refusals included."""
    return voters.remember(response)


@bp.post("/votes")
def cast() -> Response:
    """Judge and queue one vote, unless admission (admission.ShedBeforeFlask) shed it."""
    if request.environ.get(admission.ShedBeforeFlask.SHED):
        g.vote_refusal = "shed"  # counted by fanfare.http.metrics
        return _shed()  # before identify(): a shed vote sets no cookie
    voters.identify()
    return _cast()


def _cast() -> Response:
    """Judge the vote against the cached ballot, then queue it through the one script."""
    form = bodies.form()
    category_id, nominee_id = _form_id(form, "category"), _form_id(form, "nominee")
    vote_id = uuid7()
    g.press = press = _press(form, vote_id)
    ballot = ballot_cache.ballot()
    at = server_time()
    verdict = judge(ballot, category_id, nominee_id, at)
    rules = ballot.categories.get(category_id)
    if verdict.reason is not None:
        raise Problem(REASON_STATUS[verdict.reason], verdict.reason, rules=rules)
    assert rules is not None and verdict.window is not None
    admitted = gate.admit(category_id, nominee_id, verdict.window, at)
    if admitted.challenge:
        return gate.challenged(admitted.challenge, rules)
    vote = Vote(
        vote_id=vote_id,
        category_id=category_id,
        nominee_id=nominee_id,
        window_id=verdict.window.id,
        voter_id=voters.voter_id(),
        ip_hash=voters.ip_hash(),
        cast_at=at,
        subnet_hash=voters.subnet_hash(),
        ua_hash=voters.ua_hash(),
        new_voter=voters.is_new(),
        challenge_solved=admitted.solved,
    )
    queue: VoteQueue = current_app.extensions[QUEUE]
    outcome = queue.enqueue(
        vote,
        press=press,
        window=verdict.window,
        max_votes=rules.max_votes_per_voter,
        limits=_limits(),
        gate=admitted.gate,
    )
    if outcome.kind == "challenge":
        return gate.challenged(gate.challenge_for(category_id, nominee_id), rules)
    if not outcome.accepted:
        return _refusal(outcome, rules)
    _check_clock(outcome)
    if outcome.kind == "queued":  # a resend ("again") mints no cookie: it spent no budget
        voters.admit()
    if not wants_fragment():
        return redirect(i18n.lang_path(f"/votes/{outcome.receipt}"), code=303)
    nominee = rules.nominees.get(outcome.nominee_id or 0, "")
    body = _receipt_fragment(nominee).replace(RECEIPT_SLOT, str(outcome.receipt))
    return current_app.response_class(body, status=202, mimetype="text/html")


def _receipt_fragment(nominee: str) -> str:
    """The 202 fragment for a nominee, rendered once with a slot for the receipt.

    Rendering it per vote was about 3% of a vote's CPU; the receipt is a UUID, so putting it in
    the slot needs no escaping. Keyed by the page's language and the name itself, so a renamed
    nominee renders afresh and each language gets its own words.
    """
    cache: dict[tuple[str, str], str] = current_app.extensions[RECEIPT_FRAGMENTS]
    key = (i18n.language().code, nominee)
    if key not in cache:
        if len(cache) > 10_000:  # names come from the ballot, but never let it grow unbounded
            cache.clear()
        cache[key] = render(
            "vote_receipt", 202, receipt=RECEIPT_SLOT, nominee=nominee, poll_seconds=POLL_SECONDS
        )
    return cache[key]


def _check_clock(outcome: Outcome) -> None:
    """Flag an ingest clock behind Redis's beyond the tolerance (the vote stands: it was judged
    and stamped by Redis's clock); the script itself refuses a clock that is ahead."""
    lag = behind_ms(outcome, server_time())
    if lag > current_app.extensions[QUEUE].max_skew_ms:
        stats = current_app.extensions.setdefault("fanfare.metrics", {})
        stats["votes_clock_behind"] = stats.get("votes_clock_behind", 0) + 1
        current_app.logger.warning("ingest clock is at least %s ms behind Redis's", lag)


def _refusal(outcome: Outcome, rules: object) -> Response:
    """The script said no: the answer for each of its reasons."""
    if outcome.kind == "limited":
        raise Problem(429, "429", retry_after=outcome.retry_after)
    if outcome.kind == "replayed":
        raise Problem(403, "challenge_refused")
    if outcome.kind == "over_quota":
        raise Problem(409, Reason.OVER_QUOTA, rules=rules, earlier=outcome.receipt)
    if outcome.kind in (Reason.NOT_OPEN, Reason.CLOSED):
        raise Problem(409, outcome.kind, rules=rules)
    # Clock skew: this host's clock is ahead of Redis's beyond the tolerance. Not the fan's
    # doing, and their vote must not be judged by a wrong clock: 503 until an operator fixes it.
    stats = current_app.extensions.setdefault("fanfare.metrics", {})
    stats["votes_refused_clock_skew"] = stats.get("votes_refused_clock_skew", 0) + 1
    g.vote_refusal = "clock_skew"
    current_app.logger.error("ingest clock is %s ms off Redis's: refusing votes", outcome.skew_ms)
    body = render("vote_problem", 503, reason="unavailable", retry=True)
    return service_unavailable(body, RuntimeError(f"clock skew {outcome.skew_ms} ms"))


def init_app(app: Flask) -> None:
    """Register the vote routes, the limits, admission, the cached ballot and the vote queue."""
    ballot_cache.init_app(app)
    gate.init_app(app)
    app.extensions[LIMITS] = _configured_limits(app.config)
    app.extensions[ADMISSION] = admission.Admission(
        budget_seconds=float(app.config["VOTE_BUDGET_SECONDS"]),
        min_in_flight=int(app.config["VOTE_MIN_IN_FLIGHT"]),
        stats=app.extensions.setdefault("fanfare.metrics", {}),
    )
    app.extensions[QUEUE] = VoteQueue(
        redis_client.gatherer(app), max_skew_ms=int(app.config["VOTE_CLOCK_SKEW_MS"])
    )
    app.extensions[RECEIPT_FRAGMENTS] = {}
    app.register_blueprint(bp)
    app.register_blueprint(receipts.bp)
    if app.config["VOTE_WORKER_SHEDDING"]:
        shedder = app.extensions[ADMISSION]
        app.wsgi_app = admission.ShedBeforeFlask(app.wsgi_app, shedder, _busy_answer(app))  # type: ignore[method-assign]


def _configured_limits(config: dict) -> list[RateLimit]:
    """The vote limits: per IP and per subnet challenged up to a ceiling (a shared NAT is never
    refused below it), per voter refused at once; all refused at once without the fraud gate."""
    factor = int(config["VOTE_LIMIT_CEILING_FACTOR"]) if config["FRAUD_GATE"] else 1
    ceilings = {"ip": factor, "subnet": factor, "voter": 1}
    return [
        limit
        for scope, ceiling_factor in ceilings.items()
        for limit in parse_limits(
            scope, str(config[f"VOTE_LIMIT_PER_{scope.upper()}"]), ceiling_factor=ceiling_factor
        )
    ]


def _busy_answer(app: Flask) -> tuple[bytes, list[tuple[str, str]]]:
    """The htmx 503 for a shed vote, body and headers, as Flask would answer it (hooks run)."""
    with app.test_request_context("/votes", method="POST", headers={"HX-Request": "true"}):
        response = app.process_response(_shed())
    headers = [(k, v) for k, v in response.headers.items() if k != "Retry-After"]
    return response.get_data(), headers
