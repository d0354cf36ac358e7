"""Two processes, one package: the web app (pages, fragments, editors) and the vote ingest."""

from __future__ import annotations

from flask import Flask
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


def _base(name: str, overrides: dict | None) -> Flask:
    """What both services share: settings, pools, security, caching rules, error pages."""
    app = Flask(
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
    ratelimit.init_app(app)
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
    health.init_app(app, {"database": health.check_database, "redis": health.check_redis})
    pages.init_app(app)
    fragments.init_app(app)
    overlay.init_app(app)
    media.init_app(app)
    admin.init_app(app)
    fans.init_app(app)
    seed.init_app(app)
    return app


def create_ingest_app(overrides: dict | None = None) -> Flask:
    """POST /votes and the receipts: Redis only on the request path."""
    from fanfare.ingest import proofs, votes

    # Rate-limit headers would cost a Redis round trip per limit per vote; a 429 still carries
    # Retry-After (ingest/votes.py sets it).
    app = _base("fanfare.ingest", {"RATELIMIT_HEADERS_ENABLED": False, **(overrides or {})})
    # Ingest keeps accepting while PostgreSQL is down, so only Redis decides its health; a 202
    # promises the vote is safe, so an old or (in production) non-durable Redis is unhealthy.
    health.init_app(app, {"redis": health.check_redis_fit})
    redis_client.require_fit_server(app)
    votes.init_app(app)
    proofs.init_app(app)
    return app
