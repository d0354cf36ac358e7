"""Who is voting: a signed random voter id in a cookie, and keyed hashes of IP, subnet and UA.

The cookie is HttpOnly, SameSite=Lax and scoped to Path=/votes, so cacheable page requests never
carry it. A new voter's cookie is set only once its vote was queued (within the new-voter
budget or with a solved challenge, ingest/gate.py), so a refused or challenged post mints no
reusable identity. Raw IPs and User-Agents are never stored: only HMACs (fraud/signals.py).
"""

from __future__ import annotations

import functools
import secrets

from flask import current_app, g, request
from flask.wrappers import Response
from itsdangerous import BadSignature, Signer

from fanfare.fraud import signals
from fanfare.http.ratelimit import client_ip, client_subnet

COOKIE = "fanfare_voter"
COOKIE_PATH = "/votes"
COOKIE_MAX_AGE = 90 * 86400


def _signer() -> Signer:
    return _signer_for(current_app.config["SECRET_KEY"])


class _VoterSigner(Signer):
    """itsdangerous's Signer, deriving its key once, not on every sign (4% of a vote's CPU)."""

    @functools.cache  # noqa: B019 - one signer per secret, alive as long as the process
    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return super().derive_key(secret_key)


@functools.cache
def _signer_for(secret_key: str) -> Signer:
    """One Signer per secret, for the whole process."""
    return _VoterSigner(secret_key, salt="fanfare.voter")


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
    """This new voter's vote was queued: its cookie goes out with the answer."""
    g.voter_admitted = True


def voter_id() -> str:
    """The current voter's id (identify() must have run)."""
    return g.voter_id


def remember(response: Response) -> Response:
    """Set the cookie on the answer that queued this new voter's first vote."""
    state = g._get_current_object()
    if state.get("new_voter") and state.get("voter_admitted"):
        # Written by hand, not by set_cookie(): Werkzeug's cookie builder (quoting, an Expires
        # date) was 4% of a vote's CPU, and a signed id is URL-safe base64 that needs no quoting.
        value = _signer().sign(state.voter_id).decode()
        response.headers.add("Set-Cookie", f"{COOKIE}={value}{_attributes()}")
    return response


def _attributes() -> str:
    secure = "; Secure" if current_app.config["ENV"] == "production" else ""
    return f"; Max-Age={COOKIE_MAX_AGE}; Path={COOKIE_PATH}; HttpOnly; SameSite=Lax{secure}"


def ip_hash() -> str:
    """A keyed hash of the client IP: joins a voter's votes for fraud review, reveals nothing."""
    if "ip_hash" not in g:
        g.ip_hash = signals.ip_hash(current_app.config["SECRET_KEY"], client_ip())
    return g.ip_hash


def subnet_hash() -> str:
    """A keyed hash of the client's /24 or /64: the per-subnet limit and budget, and review."""
    return signals.subnet_hash(current_app.config["SECRET_KEY"], client_subnet())


def ua_hash() -> str:
    """A keyed hash of the User-Agent, for review."""
    return signals.ua_hash(current_app.config["SECRET_KEY"], request.user_agent.string)
