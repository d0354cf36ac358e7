"""The cache policy: the app decides what the edge may keep, and for how long."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask.wrappers import Response


@dataclass(frozen=True, kw_only=True)
class Policy:
    """One row of DESIGN.md's cache table."""

    max_age: int
    s_maxage: int
    stale_while_revalidate: int
    stale_if_error: int


FAN_PAGE = Policy(max_age=30, s_maxage=300, stale_while_revalidate=60, stale_if_error=86400)
RESULTS = Policy(max_age=2, s_maxage=2, stale_while_revalidate=5, stale_if_error=600)
# Settled results (final, and revealed if on cue) change only by an editor or an invalidation,
# both of which purge them: the edge keeps them a day, browsers a minute.
FINAL_RESULTS = Policy(max_age=60, s_maxage=86400, stale_while_revalidate=60, stale_if_error=86400)
# A missing page may appear when an editor publishes it, so 404s are kept only briefly.
NOT_FOUND = Policy(max_age=10, s_maxage=10, stale_while_revalidate=0, stale_if_error=60)
# How often the results island polls while live; the edge keeps it RESULTS.s_maxage at most.
POLL_SECONDS = 5
IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"


def cacheable(
    response: Response,
    policy: Policy,
    keys: Iterable[str],
    *,
    expires_in: float | None = None,
) -> Response:
    """Mark a response public under `policy`, tag it, and answer 304 when the ETag matches.

    `expires_in` caps both TTLs at the seconds left until the content changes by itself
    (a window opening or closing), so no cached copy outlives a state change.
    """
    max_age, s_maxage = policy.max_age, policy.s_maxage
    revalidate = policy.stale_while_revalidate
    if expires_in is not None:
        cap = max(0, int(expires_in))
        max_age, s_maxage = min(max_age, cap), min(s_maxage, cap)
        # The edge serves an expired copy for stale-while-revalidate seconds while it refetches
        # (grace.vcl), so that window must end by the change too, or fans would see the old state.
        revalidate = max(0, min(revalidate, cap - s_maxage))
    response.headers["Cache-Control"] = (
        f"public, max-age={max_age}, s-maxage={s_maxage}, "
        f"stale-while-revalidate={revalidate}, "
        f"stale-if-error={policy.stale_if_error}"
    )
    response.headers[current_app.config["SURROGATE_KEY_HEADER"]] = " ".join(dict.fromkeys(keys))
    response.add_etag()
    return response.make_conditional(request)


def immutable(response: Response) -> Response:
    """Fingerprinted files never change under their URL."""
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _enforce(response: Response) -> Response:
    """Default to private, and never let a cacheable response carry a cookie."""
    cache_control = response.headers.get("Cache-Control")
    if not cache_control:
        response.headers["Cache-Control"] = PRIVATE
    elif cache_control.startswith("public") and "Set-Cookie" in response.headers:
        current_app.logger.error("dropped Set-Cookie from cacheable %s", request.path)
        del response.headers["Set-Cookie"]
    return response


def init_app(app: Flask) -> None:
    """Register the safety net for every response."""
    app.after_request(_enforce)
