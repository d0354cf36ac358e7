"""How ingest answers: a fragment for htmx or the same fragment in a page, always private.

Shared by the cast (votes.py) and the receipts (receipts.py) blueprints: the refusal type, the
renderer, and the handlers that turn every refusal or dependency failure into a friendly answer.
"""

from __future__ import annotations

import secrets

import psycopg
import redis
from flask import Blueprint, current_app, g, render_template, request
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from limits.errors import StorageError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from fanfare.http import bodies
from fanfare.http.cache_policy import PRIVATE
from fanfare.http.errors import service_unavailable
from fanfare.infra import db
from fanfare.ingest import ballot_cache


class Problem(HTTPException):
    """A refused vote: its status, a reason code for the template, and what it concerned."""

    def __init__(self, code: int, reason: str, **context: object) -> None:
        super().__init__()
        self.code = code
        self.reason = reason
        self.context = context


def wants_fragment() -> bool:
    """htmx asked: answer the bare fragment, not a whole page."""
    return request.headers.get("HX-Request") == "true"


def retry_form() -> dict[str, str] | None:
    """The vote to offer again on a no-JS refusal page: same choice, same press key."""
    form = bodies.form()
    category, nominee = form.get("category", ""), form.get("nominee", "")
    if not (category.isdigit() and nominee.isdigit()):
        return None
    press = g.get("press") or form.get("press") or secrets.token_urlsafe(16)
    return {"category": category, "nominee": nominee, "press": press}


def render(template: str, status: int, *, retry: bool = False, **context: object) -> str:
    """The fragment for htmx, or the same fragment inside a full page for a plain form post.

    With `retry` the page (not the fragment: the htmx client resends by itself) carries the
    vote's form again, so a fan without JavaScript presses once more instead of starting over.
    """
    if "rules" in context:  # the category and nominee names, in the page's language
        context["rules"] = ballot_cache.in_page_language(context["rules"])
    fragment = render_template(f"fragments/{template}.html", **context)
    if wants_fragment():
        return fragment
    again = retry_form() if retry else None
    page = "pages/vote.html"
    return render_template(page, fragment=Markup(fragment), status=status, again=again, **context)


def answer(template: str, status: int, **context: object) -> Response:
    """An answer of the vote path, as a fragment or a page."""
    response = current_app.make_response((render(template, status, **context), status))
    response.mimetype = "text/html"
    return response


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


def _refused(exc: HTTPException) -> Response:
    """Every refusal as a friendly fragment or page with its status code."""
    reason = exc.reason if isinstance(exc, Problem) else str(exc.code)
    context = exc.context if isinstance(exc, Problem) else {}
    g.vote_refusal = "rate_limited" if exc.code == 429 else reason  # counted by http/metrics
    response = answer("vote_problem", exc.code or 400, reason=reason, **context)
    retry_after = context.get("retry_after")
    if isinstance(exc, RateLimitExceeded):
        retry_after = exc.limit.limit.get_expiry()
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _unavailable(exc: Exception) -> Response:
    """Redis or, with no ballot yet, PostgreSQL is down: 503, never 202."""
    g.vote_refusal = "unavailable"  # counted by fanfare.http.metrics
    return service_unavailable(render("vote_problem", 503, reason="unavailable", retry=True), exc)


def install(bp: Blueprint) -> Blueprint:
    """Give a blueprint ingest's answers: private, friendly refusals, 503 for dependencies."""
    bp.after_request(_private)
    bp.register_error_handler(HTTPException, _refused)
    for error in (redis.RedisError, StorageError, db.DatabaseError, psycopg.OperationalError):
        bp.register_error_handler(error, _unavailable)
    return bp
