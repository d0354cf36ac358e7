"""Editor sessions kept in Redis: a random token in a /admin cookie, revocable at any time.

Redis stores only a hash of the token, so a dump of Redis cannot be replayed as cookies. Each
editor's session hashes are also kept in a set, so disabling an account ends all its sessions.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from flask import current_app, request
from flask.wrappers import Response

from fanfare.infra import redis_client

COOKIE = "fanfare_admin"
PATH = "/admin"
# An editor working through a long night stays signed in; a forgotten laptop does not.
IDLE_SECONDS = 4 * 3600
ABSOLUTE_SECONDS = 12 * 3600


def _key(token_hash: str) -> str:
    return f"fanfare:admin-session:{token_hash}"


def _index(editor_id: int) -> str:
    return f"fanfare:admin-sessions:{editor_id}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(editor_id: int) -> str:
    """Create a session for an editor and return its token (for the cookie)."""
    token = secrets.token_urlsafe(32)
    token_hash = _hash(token)
    data = json.dumps({"editor_id": editor_id, "started": time.time()})
    pipe = redis_client.client().pipeline()
    pipe.set(_key(token_hash), data, ex=IDLE_SECONDS)
    pipe.sadd(_index(editor_id), token_hash)
    pipe.expire(_index(editor_id), ABSOLUTE_SECONDS)
    pipe.execute()
    return token


def load(token: str | None) -> dict | None:
    """The live session for a token, refreshing its idle timeout; None if it has ended."""
    if not token:
        return None
    r = redis_client.client()
    raw = r.get(_key(_hash(token)))
    if raw is None:
        return None
    data = json.loads(raw)
    if time.time() - data["started"] > ABSOLUTE_SECONDS:
        end(token)
        return None
    r.expire(_key(_hash(token)), IDLE_SECONDS)
    return data


def end(token: str | None) -> None:
    """End one session (logout, or rotation at login)."""
    if not token:
        return
    r = redis_client.client()
    token_hash = _hash(token)
    raw = r.getdel(_key(token_hash))
    if raw is not None:
        r.srem(_index(json.loads(raw)["editor_id"]), token_hash)


def end_all(editor_id: int) -> int:
    """End every session of an editor (account disabled); return how many there were."""
    r = redis_client.client()
    hashes = r.smembers(_index(editor_id))
    pipe = r.pipeline()
    for token_hash in hashes:
        pipe.delete(_key(token_hash.decode()))
    pipe.delete(_index(editor_id))
    pipe.execute()
    return len(hashes)


def current_token() -> str | None:
    """The session token the request carries."""
    return request.cookies.get(COOKIE)


def set_cookie(response: Response, token: str) -> None:
    """HttpOnly, SameSite=Strict, only sent to /admin, Secure outside development."""
    response.set_cookie(
        COOKIE,
        token,
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["ENV"] != "development",
    )


def clear_cookie(response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE,
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["ENV"] != "development",
    )
