"""Fan-facing routes of the prediction game: accounts, predictions, leaderboard, the feed."""

from __future__ import annotations

from flask import Flask

from fanfare.web.fans import account, boards, feed, play


def init_app(app: Flask) -> None:
    """Register the blueprints."""
    for module in (account, play, boards, feed):
        app.register_blueprint(module.bp)
