"""Security headers on every response and the cross-origin check on every unsafe method."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from flask.wrappers import Response
from flask_babel import lazy_gettext as _l

from fanfare.settings import words

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
# An origin as CSP frame-ancestors takes it: scheme://host[:port], nothing that could end the
# directive (a stray ";" in the setting must not inject policy).
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    """A host[:port] as (lowercase host, port); default ports normalised, None if absent."""
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    return (parts.hostname or ""), port


def is_same_origin(origin: str) -> bool:
    """Whether an Origin header names this site, as the request reached the app.

    The edge drops the port from Host (one cache object per site), so when Host has no port
    only the host name can be compared; when it has one (no edge in front), ports must match.
    """
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return False  # "null" (sandboxed frames, file:), or not an origin at all
    origin_host, origin_port = _host_and_port(parts.netloc, parts.scheme)
    host, port = _host_and_port(request.host, parts.scheme)
    if not host or origin_host != host:
        return False
    if port is None:
        return True
    return (origin_port or DEFAULT_PORTS[parts.scheme]) == port


def is_cross_origin() -> bool:
    """Go's CrossOriginProtection: trust Sec-Fetch-Site, else compare Origin with the site."""
    if request.method in SAFE_METHODS:
        return False
    origin = request.headers.get("Origin")
    # An exact match in a list, never a substring of the setting.
    if origin and origin in words(current_app.config["TRUSTED_ORIGINS"]):
        return False
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    if origin is None:
        return False  # not a browser: no ambient credentials to abuse
    return not is_same_origin(origin)


def _check_origin() -> None:
    """Refuse cross-origin unsafe requests before any other work."""
    if is_cross_origin():
        abort(403, description=_l("This form can only be sent from this site."))


def framable(response: Response) -> Response:
    """Let only the origins in FRAME_ANCESTORS frame this response (the overlay and embed)."""
    origins = [o for o in words(current_app.config["FRAME_ANCESTORS"]) if ORIGIN.fullmatch(o)]
    ancestors = " ".join(origins) or "'none'"
    response.headers["Content-Security-Policy"] = CSP.replace(
        "frame-ancestors 'none'", f"frame-ancestors {ancestors}"
    )
    return response


def _every_response(production: bool) -> list[tuple[str, str]]:
    """The headers every response carries; X-Frame-Options only where framing is 'none'."""
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
    ]
    if production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def init_app(app: Flask) -> None:
    """Check origins first, add headers last."""
    every = _every_response(app.config["ENV"] == "production")
    framed = [pair for pair in every if pair[0] != "X-Frame-Options"]

    def _headers(response: Response) -> Response:
        # Only framable() sets a policy before this runs; it also means no X-Frame-Options,
        # which has no allow-list. Otherwise one extend: this runs on every vote.
        headers = response.headers
        policy = headers.get("Content-Security-Policy")
        if policy is None:
            headers.extend(every)
        else:
            for name, value in every if "frame-ancestors 'none'" in policy else framed:
                headers.setdefault(name, value)
        return response

    app.before_request(_check_origin)
    app.after_request(_headers)
