"""Who is voting: a signed random voter id in a cookie, and a keyed hash of the client IP.

The cookie is HttpOnly, SameSite=Lax and scoped to Path=/votes, so cacheable page requests never
carry it. A new voter's cookie is set only once its vote was admitted (ingest/gate.py: within
the new-voter budget or with a solved challenge), so a refused or challenged post mints no
reusable identity. The raw IP is never stored: only an HMAC of it (fraud/signals.py).
"""

from __future__ import annotations

import secrets

from flask import current_app, g, request
from flask.wrappers import Response
from itsdangerous import BadSignature, Signer

from fanfare.fraud import signals
from fanfare.http.ratelimit import client_ip

COOKIE = "fanfare_voter"
COOKIE_PATH = "/votes"
COOKIE_MAX_AGE = 90 * 86400


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="fanfare.voter")


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


def is_new() -> bool:
    """The vote came without a known voter cookie."""
    return bool(g.get("new_voter"))


def admit() -> None:
    """This new voter's vote was admitted: its cookie goes out with the answer."""
    g.voter_admitted = True


def voter_id() -> str:
    """The current voter's id (identify() must have run)."""
    return g.voter_id


def remember(response: Response) -> Response:
    """Set the cookie on the response that first saw this voter."""
    if g.get("new_voter") and g.get("voter_admitted"):
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


def ip_hash() -> str:
    """A keyed hash of the client IP: joins a voter's votes for fraud review, reveals nothing."""
    return signals.ip_hash(current_app.config["SECRET_KEY"], client_ip())
