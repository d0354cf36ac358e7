"""Two processes, one package: the web app (pages, fragments, editors) and the vote ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from fanfare import settings
from fanfare.edge import purge
from fanfare.http import (
    assets,
    bodies,
    cache_policy,
    errors,
    filters,
    health,
    i18n,
    ratelimit,
    security,
)
from fanfare.infra import db, redis_client


class _Flask(Flask):
    """Flask that asks once, not on every request, whether a view or hook is a coroutine."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # Flask checks each of a request's dozen hooks with inspect on every call: 2% of a
        # vote's CPU. A function never changes kind, so the answer is kept per function.
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = self._sync_functions[func] = super().ensure_sync(func)
        return sync


def _base(name: str, overrides: dict | None) -> Flask:
    """What both services share: settings, pools, security, caching rules, error pages."""
    app = _Flask(
        name,
        template_folder=str(settings.ROOT / "templates"),
        static_folder=None,
    )
    app.config.from_mapping(settings.load(overrides))
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        # Trust exactly the edge's hops; X-Forwarded-Host is never trusted (cache poisoning).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    db.init_app(app)
    # One purge client per process, for the after-publish step.
    app.extensions[purge.EXTENSION] = purge.client_from_settings(app.config)
    redis_client.init_app(app)
    security.init_app(app)
    bodies.init_app(app)
    cache_policy.init_app(app)
    errors.init_app(app)
    assets.init_app(app)
    filters.init_app(app)
    i18n.init_app(app)
    return app


def create_web_app(overrides: dict | None = None) -> Flask:
    """Pages, results fragments and the editor area."""
    from fanfare.content import media, seed
    from fanfare.web import admin, fans, fragments, overlay, pages

    app = _base("fanfare.web", overrides)
    # flask-limiter for editor sign-in only; votes are limited inside their one Redis script.
    ratelimit.init_app(app)
    health.init_app(app, {"database": health.check_database, "redis": health.check_redis})
    pages.init_app(app)
    fragments.init_app(app)
    overlay.init_app(app)
    media.init_app(app)
    admin.init_app(app)
    fans.init_app(app)
    seed.init_app(app)
    return app


class _NoSessions(SessionInterface):
    """Ingest keeps no Flask session: a voter is its own signed cookie (ingest/voters.py), and
    opening Flask's cookie session for every vote cost about 5% of the vote's CPU."""

    def open_session(self, app: Flask, request: object) -> None:
        return None  # Flask then uses its (never saved) null session

    def save_session(self, app: Flask, session: object, response: object) -> None:
        return None


def create_ingest_app(overrides: dict | None = None) -> Flask:
    """POST /votes and the receipts: Redis only on the request path."""
    from fanfare.ingest import proofs, votes

    app = _base("fanfare.ingest", overrides)
    app.session_interface = _NoSessions()
    # Ingest keeps accepting while PostgreSQL is down, so only Redis decides its health; a 202
    # promises the vote is safe, so an old or (in production) non-durable Redis is unhealthy.
    health.init_app(app, {"redis": health.check_redis_fit})
    redis_client.require_fit_server(app)
    votes.init_app(app)
    proofs.init_app(app)
    return app
