"""Which votes must first prove a person sent them: the Flask side of the new-voter budget.

A vote with a known voter cookie passes untouched (no extra Redis call). A cookieless vote
passes with a solved proof of work or a ripe time lock, or while its IP and subnet still have
new-voter budget; otherwise it is answered with a challenge: neither counted nor refused.
GET /votes/challenge is where the no-JS time lock's meta refresh lands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, request
from flask.wrappers import Response

from fanfare.fraud import challenge, signals
from fanfare.fraud.budget import NewVoterBudget
from fanfare.fraud.challenge import ChallengeRules, Refused
from fanfare.http.ratelimit import client_subnet
from fanfare.infra import redis_client
from fanfare.ingest import ballot_cache, voters
from fanfare.ingest.answers import Problem, answer, install

EXTENSION = "fanfare.gate"
bp = install(Blueprint("challenge", __name__))


@dataclass(frozen=True, slots=True)
class Admission:
    """What the gate decided: go ahead (solved or not), or answer with this challenge."""

    solved: bool = False
    challenge: dict = field(default_factory=dict)


def subnet_hash() -> str:
    """The keyed hash of the client's /24 or /64."""
    return signals.subnet_hash(current_app.config["SECRET_KEY"], client_subnet())


def ua_hash() -> str:
    """The keyed hash of the User-Agent."""
    return signals.ua_hash(current_app.config["SECRET_KEY"], request.user_agent.string)


def _rules() -> ChallengeRules:
    return current_app.extensions[EXTENSION][1]


def _challenge(category_id: int, nominee_id: int, token: str, wait: int) -> dict:
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


def _refused() -> Problem:
    return Problem(403, "challenge_refused")


def admit(category_id: int, nominee_id: int, window_id: int, ttl: int) -> Admission:
    """Decide whether this vote may be queued now (see the module docstring)."""
    if not voters.is_new():
        return Admission()
    rules, call = _rules(), current_app.extensions[EXTENSION][2]
    ip_hash = voters.ip_hash()
    try:
        if payload := request.form.get("altcha"):
            challenge.accept_pow(rules, call, payload, category_id)
            voters.admit()
            return Admission(solved=True)
        if token := request.form.get("timelock"):
            wait = challenge.timelock_wait(rules, token, category_id, ip_hash)
            if wait:
                return Admission(challenge=_challenge(category_id, nominee_id, token, wait))
            challenge.accept_timelock(rules, call, token)
            voters.admit()
            return Admission(solved=True)
    except Refused:
        raise _refused() from None
    budget: NewVoterBudget = current_app.extensions[EXTENSION][0]
    if budget.spend(window_id, ip_hash, subnet_hash(), ttl):
        voters.admit()
        return Admission()
    token = challenge.issue_timelock(rules, category_id, ip_hash)
    return Admission(challenge=_challenge(category_id, nominee_id, token, rules.timelock_seconds))


def challenged(context: dict, rules: object) -> Response:
    """A challenged vote's answer: 200, nothing queued, the challenge to solve."""
    g.challenged = True
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
        raise _refused() from None
    rules = ballot_cache.ballot().categories.get(category_id)
    if rules is None or nominee_id not in rules.nominees:
        raise Problem(422, "unknown_nominee", rules=rules)
    return challenged(_challenge(category_id, nominee_id, token, wait), rules)


def init_app(app: Flask) -> None:
    """The budget script, the challenge rules and the replay store's Redis call, per process."""
    gatherer = redis_client.gatherer(app)
    budget = NewVoterBudget(
        gatherer,
        per_ip=int(app.config["NEW_VOTER_BUDGET_PER_IP"]),
        per_subnet=int(app.config["NEW_VOTER_BUDGET_PER_SUBNET"]),
    )
    app.extensions[EXTENSION] = (budget, ChallengeRules.from_config(app.config), gatherer.call)
    app.register_blueprint(bp)
