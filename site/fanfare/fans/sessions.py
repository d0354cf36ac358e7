"""Fan sessions in Redis: a random token in a cookie scoped to /account, revocable at once.

Redis holds only a hash of the token. Every fan URL that reads the cookie lives under /account,
which the edge passes uncached (cdn/fans.vcl); no cacheable page ever receives it.
"""

from __future__ import annotations

import hashlib
import secrets

import redis

COOKIE = "fanfare_fan"
PATH = "/account"


def key(token: str) -> str:
    """Where a session lives: a hash of its token, so a Redis dump holds no usable cookie."""
    return "fanfare:fan-session:" + hashlib.sha256(token.encode()).hexdigest()


def _index(fan_id: int) -> str:
    return f"fanfare:fan-sessions:{fan_id}"


def start(r: redis.Redis, fan_id: int, *, lifetime: int) -> str:
    """A new session for a fan; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    pipe = r.pipeline()
    pipe.set(key(token), fan_id, ex=lifetime)
    pipe.sadd(_index(fan_id), key(token))
    pipe.expire(_index(fan_id), lifetime)
    pipe.execute()
    return token


def fan_id(r: redis.Redis, token: str | None) -> int | None:
    """The signed-in fan for a token, or None."""
    if not token:
        return None
    raw = r.get(key(token))
    return int(raw) if raw is not None else None


def end(r: redis.Redis, token: str | None) -> None:
    """Sign out this one session."""
    if token:
        r.delete(key(token))


def end_all(r: redis.Redis, fan_id: int) -> None:
    """Sign out everywhere (the account was deleted)."""
    keys = [k.decode() for k in r.smembers(_index(fan_id))]
    r.delete(_index(fan_id), *keys)
