"""Who is voting: a signed random voter id in a cookie, and a keyed hash of the client IP.

The cookie is HttpOnly, SameSite=Lax and scoped to Path=/votes, so cacheable page requests never
carry it. The raw IP is never stored: only an HMAC of it under a key derived from SECRET_KEY.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from flask import current_app, g, request
from flask.wrappers import Response
from itsdangerous import BadSignature, Signer

from fanfare.http.ratelimit import client_ip, client_subnet

COOKIE = "fanfare_voter"
COOKIE_PATH = "/votes"
COOKIE_MAX_AGE = 90 * 86400


def _signer() -> Signer:
    return _signer_for(current_app.config["SECRET_KEY"])


@functools.cache
def _signer_for(secret_key: str) -> Signer:
    """One Signer per secret: building one derives its key, which every vote would repeat."""
    return Signer(secret_key, salt="fanfare.voter")


def identify() -> None:
    """Read the voter id from the cookie, or mint one (set on the response by remember())."""
    raw = request.cookies.get(COOKIE, "")
    try:
        g.voter_id = _signer().unsign(raw).decode() if raw else None
    except BadSignature:
        g.voter_id = None
    g.new_voter = g.voter_id is None
    if g.new_voter:
        g.voter_id = secrets.token_urlsafe(16)


def voter_id() -> str:
    """The current voter's id (identify() must have run)."""
    return g.voter_id


def remember(response: Response) -> Response:
    """Set the cookie on the response that first saw this voter."""
    if g.get("new_voter"):
        response.set_cookie(
            COOKIE,
            _signer().sign(g.voter_id).decode(),
            max_age=COOKIE_MAX_AGE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["ENV"] == "production",
        )
    return response


@functools.cache
def _ip_key(secret_key: str) -> bytes:
    """The IP-hash key, derived once per secret rather than on every vote."""
    return hashlib.sha256(b"fanfare.ip-hash:" + secret_key.encode()).digest()


def _keyed_hash(value: str) -> str:
    return _keyed_hash_for(current_app.config["SECRET_KEY"], value)


@functools.lru_cache(maxsize=65536)
def _keyed_hash_for(secret_key: str, value: str) -> str:
    """HMAC-SHA256 of an address under the secret; cached, as a spike repeats addresses (NAT)."""
    return hmac.new(_ip_key(secret_key), value.encode(), hashlib.sha256).hexdigest()[:32]


def ip_hash() -> str:
    """A keyed hash of the client IP: joins a voter's votes for fraud review, reveals nothing."""
    if "ip_hash" not in g:
        g.ip_hash = _keyed_hash(client_ip())
    return g.ip_hash


def subnet_hash() -> str:
    """A keyed hash of the client's /24 or /64, for the per-subnet limit's counter."""
    return _keyed_hash(client_subnet())
