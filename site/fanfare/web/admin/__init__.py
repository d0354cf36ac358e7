"""The editor area under /admin: sign-in, content drafts and publishing, photos, accounts."""

from __future__ import annotations

from flask import Flask

from fanfare.web.admin import (  # noqa: F401  (they add routes)
    accounts,
    auth,
    base,
    editing,
    editors,
    exports,
    fraud,
    ops,
    predictions,
    reveal,
    translating,
)
from fanfare.web.admin.forms import RESULTS_MODES, time_value


def init_app(app: Flask) -> None:
    """Register the blueprint, the no-store rule and `create-editor`."""
    app.register_blueprint(base.bp)
    app.after_request(base.no_store)
    app.jinja_env.globals.update(time_value=time_value, RESULTS_MODES=RESULTS_MODES)
    accounts.init_app(app)
