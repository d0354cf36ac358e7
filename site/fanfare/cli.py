"""The `fanfare` command: Flask's CLI bound to the web app (migrate, seed-demo, ...)."""

from __future__ import annotations

from flask.cli import FlaskGroup

from fanfare.app import create_web_app

main = FlaskGroup(create_app=lambda: create_web_app(), help="fanfare: live award voting.")
