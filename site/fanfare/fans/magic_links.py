"""Magic sign-in links: signed, valid for minutes, and consumed atomically in Redis. Flask-free.

The token is an itsdangerous signature over (address, nonce) with a timestamp. Redis holds only
a hash of each live nonce, with the link's lifetime as TTL; GETDEL consumes it, so of two clicks
racing on one link exactly one signs in, and a reused or expired link is refused.
"""

from __future__ import annotations

import hashlib
import secrets

import redis
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "fanfare-fan-sign-in"


def _key(nonce: str) -> str:
    return "fanfare:magic-link:" + hashlib.sha256(nonce.encode()).hexdigest()


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(r: redis.Redis, secret: str, email: str, *, lifetime: int) -> str:
    """A new single-use token for this address."""
    nonce = secrets.token_urlsafe(18)
    r.set(_key(nonce), "1", ex=lifetime)
    return _serializer(secret).dumps({"e": email, "n": nonce})


def _payload(secret: str, token: str, lifetime: int) -> dict | None:
    """The signed payload, if the signature holds and the token is young enough."""
    try:
        data = _serializer(secret).loads(token, max_age=lifetime)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    return data if isinstance(data, dict) and "e" in data and "n" in data else None


def usable(r: redis.Redis, secret: str, token: str, *, lifetime: int) -> bool:
    """Whether the link would still sign in (shown before the fan confirms; not consumed)."""
    data = _payload(secret, token, lifetime)
    return data is not None and bool(r.exists(_key(str(data["n"]))))


def consume(r: redis.Redis, secret: str, token: str, *, lifetime: int) -> str | None:
    """The address, exactly once per token; None if forged, expired or already used."""
    data = _payload(secret, token, lifetime)
    if data is None or r.getdel(_key(str(data["n"]))) is None:
        return None
    return str(data["e"])
