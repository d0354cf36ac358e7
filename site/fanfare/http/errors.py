"""Friendly, tiny error pages. A 404 may be cached briefly; nothing else is."""

from __future__ import annotations

import psycopg
import redis
from flask import Flask, current_app, render_template
from flask.wrappers import Response
from limits.errors import StorageError
from werkzeug.exceptions import HTTPException, InternalServerError

from fanfare.edge import keys
from fanfare.http.cache_policy import NOT_FOUND, cacheable
from fanfare.infra.db import DatabaseError

# Seconds a client waits before trying again when a dependency is down.
RETRY_AFTER_SECONDS = 5
TITLES = {
    400: "That didn't look right",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Not now",
    413: "That was too big",
    415: "That didn't look right",
    429: "Slow down a little",
    500: "Something went wrong",
    503: "We're very busy",
}


def render_error(exc: HTTPException):
    """Render any HTTP error as a small page."""
    code = exc.code or 500
    title = TITLES.get(code, "Something went wrong")
    body = render_template("errors/error.html", code=code, title=title, message=exc.description)
    response = exc.get_response()
    response.set_data(body)
    response.mimetype = "text/html"
    if code == 404:
        # Tagged so that publishing the missing page can purge it at once.
        return cacheable(response, NOT_FOUND, keys.NOT_FOUND_PAGE)
    return response


def service_unavailable(body: str, exc: Exception) -> Response:
    """The one answer when a dependency is down: 503 with Retry-After, so clients back off."""
    current_app.logger.warning("dependency unavailable: %r", exc)
    response = current_app.make_response((body, 503))
    response.mimetype = "text/html"
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable(exc: Exception) -> Response:
    """A dependency is down, on any page: the error page under the one 503 answer."""
    message = "We're very busy right now. Please try again in a few seconds."
    body = render_template("errors/error.html", code=503, title=TITLES[503], message=message)
    return service_unavailable(body, exc)


def init_app(app: Flask) -> None:
    """Register the handlers; unexpected exceptions become the 500 page."""
    app.register_error_handler(HTTPException, render_error)
    for dependency_error in (
        redis.RedisError,
        StorageError,
        psycopg.OperationalError,
        DatabaseError,
    ):
        app.register_error_handler(dependency_error, unavailable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return render_error(InternalServerError())
