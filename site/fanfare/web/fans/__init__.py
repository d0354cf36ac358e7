"""Fan-facing routes of the prediction game: accounts, predictions, leaderboard, the feed."""

from __future__ import annotations

from flask import Flask

from fanfare.http.i18n import ACCOUNT
from fanfare.web.fans import account, boards, feed, play


def init_app(app: Flask) -> None:
    """Register the blueprints, each fan page also in every other language."""
    for public in (play.bp, boards.bp):
        app.register_blueprint(public)
        # /es/predictions, /es/leaderboard, ... like the other fan pages (web/pages.py).
        app.register_blueprint(public, url_prefix="/<lang:lang>", name=f"{public.name}_in_language")
    for private in (account.bp, play.private):
        app.register_blueprint(private)
        # The fan cookie reaches /account only, so there the language follows: /account/es/...
        app.register_blueprint(
            private, url_prefix=f"{ACCOUNT}/<lang:lang>", name=f"{private.name}_in_language"
        )
    app.register_blueprint(feed.bp)
