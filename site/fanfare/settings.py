"""Settings: defaults, then DATABASE_URL / REDIS_URL, then every FANFARE_* variable."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

# The repository root: templates/, static/, node_modules/ and .run/ live beside site/.
ROOT = Path(__file__).resolve().parents[2]

DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "DATABASE_URL": "postgresql://127.0.0.1:5432/fanfare",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DB_POOL_MIN": 1,
    "DB_POOL_MAX": 10,
    # redis-py fails at once past its pool size, so the size is chosen here on purpose.
    "REDIS_POOL_MAX": 200,
    # Hops of trusted proxies in front of the app: the edge is one.
    "PROXY_HOPS": 1,
    # Space-separated edge base URLs that receive purges.
    "EDGE_URLS": "http://127.0.0.1:8000",
    "SURROGATE_KEY_HEADER": "xkey",
    "MEDIA_ROOT": str(ROOT / "media"),
    "NODE_MODULES": str(ROOT / "node_modules"),
}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe."""


def load(app: Flask, overrides: dict | None = None) -> None:
    """Fill app.config from defaults, the environment and explicit overrides (tests)."""
    app.config.from_mapping(DEFAULTS)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config.from_prefixed_env("FANFARE")
    if overrides:
        app.config.from_mapping(overrides)
    _ensure_secret_key(app)


def _ensure_secret_key(app: Flask) -> None:
    """Production refuses to start without a secret; development keeps one under .run/."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config["ENV"] == "production":
        raise ConfigError("FANFARE_SECRET_KEY must be set in production")
    path = ROOT / ".run" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()
