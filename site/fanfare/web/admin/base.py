"""The /admin blueprint and what every editor request goes through: sign-in and no caching."""

from __future__ import annotations

from functools import wraps
from urllib.parse import quote

from flask import Blueprint, abort, current_app, g, redirect, request
from flask.wrappers import Response
from flask_babel import gettext as _

from fanfare.http.cache_policy import PRIVATE
from fanfare.infra import db
from fanfare.web.admin import accounts, sessions

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Endpoints reachable without a session.
PUBLIC = {"admin.login", "admin.login_form"}


@bp.before_request
def require_editor() -> Response | None:
    """Load the signed-in editor into g.editor, or send the browser to the sign-in page."""
    g.editor = None
    data = sessions.load(sessions.current_token())
    if data is not None:
        with db.connection() as conn:
            g.editor = accounts.get_editor(conn, data["editor_id"])
        if g.editor is None:  # the account was disabled since
            sessions.end(sessions.current_token())
    if g.editor is None and request.endpoint not in PUBLIC:
        target = request.full_path if request.method == "GET" else "/admin/"
        return redirect("/admin/login?next=" + quote(target.rstrip("?")), 303)
    return None


def admin_required(view):
    """Only admins (who manage editors) may use this view."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.editor["role"] != "admin":
            abort(403, description=_("Only admins can manage editor accounts."))
        return view(*args, **kwargs)

    return wrapper


def no_store(response: Response) -> Response:
    """Every /admin response, errors included, is private and untagged."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        response.headers["Cache-Control"] = PRIVATE
        response.headers.pop(current_app.config["SURROGATE_KEY_HEADER"], None)
        response.headers.pop("ETag", None)
    return response
