"""Friendly, tiny error pages. A 404 may be cached briefly; nothing else is."""

from __future__ import annotations

import psycopg
import redis
from flask import Flask, current_app, render_template
from flask.wrappers import Response
from flask_babel import lazy_gettext as _l
from limits.errors import StorageError
from werkzeug.exceptions import HTTPException, InternalServerError

from fanfare.edge import keys
from fanfare.http.cache_policy import NOT_FOUND, cacheable
from fanfare.infra.db import DatabaseError

# Seconds a client waits before trying again when a dependency is down.
RETRY_AFTER_SECONDS = 5
TITLES = {
    400: _l("That didn't look right"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Not allowed"),
    409: _l("Not now"),
    413: _l("That was too big"),
    415: _l("That didn't look right"),
    429: _l("Slow down a little"),
    500: _l("Something went wrong"),
    503: _l("We're very busy"),
}
# Werkzeug's own descriptions are English and technical; a fan gets one of these instead.
MESSAGES = {
    400: _l("We couldn't make sense of that request. Please go back and try again."),
    403: _l("You can't do that here."),
    404: _l("There's nothing at this address. It may have moved, or it isn't published yet."),
    405: _l("You can't do that here."),
    409: _l("That can't be done right now."),
    413: _l("That was far bigger than this page accepts. Please go back and try again."),
    415: _l("We couldn't make sense of that request. Please go back and try again."),
    429: _l("That's a lot of requests. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Please try again in a moment."),
    503: _l("We're very busy right now. Please try again in a few seconds."),
}


def render_error(exc: HTTPException):
    """Render any HTTP error as a small page, in the language of its URL."""
    code = exc.code or 500
    title = TITLES.get(code, TITLES[500])
    message = exc.description
    if message == type(exc).description:  # not one of ours: say it in the fan's language
        message = MESSAGES.get(code, MESSAGES[500])
    body = render_template("errors/error.html", code=code, title=title, message=message)
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
    body = render_template("errors/error.html", code=503, title=TITLES[503], message=MESSAGES[503])
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
