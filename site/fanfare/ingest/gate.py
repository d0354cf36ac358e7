"""Which votes must first prove a person sent them: the Flask side of the fraud gate.

A vote that carries a solved proof of work or a ripe time lock is checked here and accepted
once by the enqueue script, whoever sends it. Otherwise a cookieless vote spends its IP's and
subnet's new-voter budget inside the same script, and any vote, a returning fan's too, is
charged to its IP's and subnet's rate limits there; past the budget or a limit's amount the
script answers "challenge" and the fan gets one: neither counted nor refused (only past a
limit's ceiling is a vote refused, 429). GET /votes/challenge is where the no-JS time lock's
meta refresh lands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, request
from flask.wrappers import Response

from fanfare.fraud import budget, challenge
from fanfare.fraud.challenge import ChallengeRules, Refused
from fanfare.http import bodies
from fanfare.ingest import ballot_cache, voters
from fanfare.ingest.answers import Problem, answer, install
from fanfare.votes.ballot import Window

EXTENSION = "fanfare.gate"
bp = install(Blueprint("challenge", __name__))


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's part of the enqueue script, or a challenge to answer at once (unripe lock)."""

    gate: budget.Gate = budget.KNOWN
    solved: bool = False
    challenge: dict = field(default_factory=dict)


def _rules() -> ChallengeRules:
    return current_app.extensions[EXTENSION]


def _context(category_id: int, nominee_id: int, token: str, wait: int) -> dict:
    """The challenge answer's context: a proof of work for JS, a time lock for everyone."""
    query = urlencode({"category": category_id, "nominee": nominee_id, "timelock": token})
    return {
        "pow": json.dumps(challenge.issue_pow(_rules(), category_id), separators=(",", ":")),
        "timelock": token,
        "wait": wait,
        "refresh_url": f"/votes/challenge?{query}",
        "category_id": category_id,
        "nominee_id": nominee_id,
    }


def challenge_for(category_id: int, nominee_id: int) -> dict:
    """A fresh challenge for a vote the script turned away."""
    rules = _rules()
    token = challenge.issue_timelock(rules, category_id, voters.ip_hash())
    return _context(category_id, nominee_id, token, rules.timelock_seconds)


def admit(category_id: int, nominee_id: int, window: Window, at: datetime) -> Admission:
    """What the enqueue script must check for this vote (see the module docstring)."""
    if not current_app.config["FRAUD_GATE"]:
        return Admission()  # and the limits refuse at once (votes._configured_limits)
    rules = _rules()
    try:
        if payload := bodies.form().get("altcha"):
            used = challenge.accept_pow(rules, payload, category_id)
            return Admission(gate=budget.solved(*used), solved=True)
        if token := bodies.form().get("timelock"):
            wait = challenge.timelock_wait(rules, token, category_id, voters.ip_hash())
            if wait:
                return Admission(challenge=_context(category_id, nominee_id, token, wait))
            used = challenge.timelock_used(rules, token)
            return Admission(gate=budget.solved(*used), solved=True)
    except Refused:
        raise Problem(403, "challenge_refused") from None
    if not voters.is_new():
        return Admission()
    config = current_app.config
    gate = budget.new_voter(
        window.id,
        voters.ip_hash(),
        voters.subnet_hash(),
        per_ip=int(config["NEW_VOTER_BUDGET_PER_IP"]),
        per_subnet=int(config["NEW_VOTER_BUDGET_PER_SUBNET"]),
        ttl=int((window.closes_at - at).total_seconds()) + 60,
    )
    return Admission(gate=gate)


def challenged(context: dict, rules: object) -> Response:
    """A challenged vote's answer: 200, nothing queued, the challenge to solve."""
    g.vote_refusal = "challenged"  # neither accepted nor refused, for fanfare.http.metrics
    return answer("vote_challenge", 200, rules=rules, **context)


def _query_id(name: str) -> int:
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18):
        raise Problem(400, "malformed")
    return int(raw)


@bp.get("/votes/challenge")
def ready() -> Response:
    """Where the time lock's meta refresh lands: the vote, ready to press again."""
    category_id, nominee_id = _query_id("category"), _query_id("nominee")
    token = request.args.get("timelock", "")
    try:
        wait = challenge.timelock_wait(_rules(), token, category_id, voters.ip_hash())
    except Refused:
        raise Problem(403, "challenge_refused") from None
    rules = ballot_cache.ballot().categories.get(category_id)
    if rules is None or nominee_id not in rules.nominees:
        raise Problem(422, "unknown_nominee", rules=rules)
    return challenged(_context(category_id, nominee_id, token, wait), rules)


def init_app(app: Flask) -> None:
    """The challenge rules, derived once per process, and the time lock's landing page."""
    app.extensions[EXTENSION] = ChallengeRules.from_config(app.config)
    app.register_blueprint(bp)
