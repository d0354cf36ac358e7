"""The challenge a suspicious vote gets: an altcha proof of work (JS) or a time lock (no JS).

Proof of work: altcha's v2 API (signed canonical-JSON parameters, the release patched against
splicing). The challenge is issued in deterministic mode with a key signature, so verifying costs
two HMACs, not a key derivation. It carries its category in its signed data, expires in minutes
and is accepted once: the library keeps no replay store, so each used challenge is remembered
in Redis until it expires: accept_*() name that marker, and the enqueue script refuses a vote
whose marker exists and sets it when it queues one (votes/enqueue.lua). The time lock is a
signed token that ripens N seconds after it was issued, bound to the category and the client's
IP hash, and also accepted once. Redis-free and Flask-free.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import altcha
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from fanfare.fraud.signals import keyed_hash

ALGORITHM = "PBKDF2/SHA-256"  # native in every browser's WebCrypto, so the worker needs no code


class Refused(Exception):
    """A solution or time lock that is forged, spliced, expired, replayed or for another vote."""


@dataclass(frozen=True, slots=True)
class ChallengeRules:
    """What the challenge settings say, with the keys derived from SECRET_KEY."""

    secret_key: str
    cost: int
    max_number: int
    expires_seconds: int
    timelock_seconds: int

    @classmethod
    def from_config(cls, config: dict) -> ChallengeRules:
        """The rules from app.config or settings.load()."""
        return cls(
            secret_key=str(config["SECRET_KEY"]),
            cost=int(config["CHALLENGE_COST"]),
            max_number=int(config["CHALLENGE_MAX_NUMBER"]),
            expires_seconds=int(config["CHALLENGE_EXPIRES_SECONDS"]),
            timelock_seconds=int(config["TIMELOCK_SECONDS"]),
        )

    def _secret(self, purpose: str) -> str:
        return keyed_hash(self.secret_key, purpose, "altcha")


def used_key(kind: str, token: str) -> str:
    """Present once a challenge (by signature) or time lock (by its signed value) was used."""
    return f"challenge-used:{kind}:{token}"


def issue_pow(rules: ChallengeRules, category_id: int) -> dict:
    """A signed challenge for the client's solver, bound to the category."""
    challenge = altcha.create_challenge(
        ALGORITHM,
        rules.cost,
        counter=secrets.randbelow(rules.max_number),
        expires_at=int(time.time()) + rules.expires_seconds,
        data={"category": str(category_id)},
        hmac_secret=rules._secret("altcha-challenge"),
        hmac_key_secret=rules._secret("altcha-key"),
    )
    return challenge.to_dict()


def accept_pow(rules: ChallengeRules, payload: str, category_id: int) -> tuple[str, int]:
    """Verify a solution for this category: its used marker and seconds left, or Refused."""
    try:
        parsed = altcha.Payload.from_base64(payload)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise Refused("unreadable") from None
    result = altcha.verify_solution(
        parsed,
        rules._secret("altcha-challenge"),
        hmac_key_secret=rules._secret("altcha-key"),
    )
    params = parsed.challenge.parameters
    if not result.verified or not isinstance(params.expires_at, int):
        raise Refused("not verified")
    if (params.data or {}).get("category") != str(category_id):
        raise Refused("another category")
    return used_key("pow", str(parsed.challenge.signature)), params.expires_at - int(time.time())


def _timelock_signer(rules: ChallengeRules) -> TimestampSigner:
    return TimestampSigner(rules.secret_key, salt="fanfare.timelock")


def issue_timelock(rules: ChallengeRules, category_id: int, ip_hash: str) -> str:
    """A token that ripens rules.timelock_seconds from now."""
    value = f"{category_id}.{ip_hash}.{secrets.token_urlsafe(12)}"
    return _timelock_signer(rules).sign(value).decode()


def timelock_wait(rules: ChallengeRules, token: str, category_id: int, ip_hash: str) -> int:
    """Seconds until the token ripens (0: ripe now), or Refused when it is not for this vote."""
    max_age = rules.timelock_seconds + rules.expires_seconds
    try:
        signer = _timelock_signer(rules)
        value, issued = signer.unsign(token, max_age=max_age, return_timestamp=True)
    except (SignatureExpired, BadSignature):
        raise Refused("bad or expired time lock") from None
    category, owner, _nonce = value.decode().split(".", 2)
    if category != str(category_id) or owner != ip_hash:
        raise Refused("another vote's time lock")
    return max(0, rules.timelock_seconds - int(time.time() - issued.timestamp()))


def timelock_used(rules: ChallengeRules, token: str) -> tuple[str, int]:
    """A ripe time lock's (timelock_wait() returned 0) used marker and how long to keep it."""
    return used_key("timelock", token.rsplit(".", 2)[0]), rules.expires_seconds
