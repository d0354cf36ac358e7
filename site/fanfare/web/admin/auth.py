"""Sign in and sign out: throttled, same answer for unknown accounts, a fresh session each time."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request
from flask.wrappers import Response
from flask_babel import lazy_gettext as _l

from fanfare.content import audit
from fanfare.infra import db
from fanfare.web.admin import accounts, sessions, throttle
from fanfare.web.admin.base import bp

FAILED = _l("That email and password do not match an account.")


def _safe_next(target: str | None) -> str:
    """Only ever go back into the editor area (no open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin/"


@bp.get("/login")
def login_form() -> str:
    """The sign-in page."""
    return render_template("admin/login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login() -> Response:
    """Throttle failures, check the password (always one hash verify), start a new session."""
    email = request.form.get("email", "")
    account = accounts.normalize_email(email)
    throttle.check(account)
    target = _safe_next(request.form.get("next"))
    with db.connection() as conn:
        editor = accounts.authenticate(conn, email, request.form.get("password", ""))
        if editor is not None:
            audit.record(conn, editor, "sign in", "session")
    if editor is None:
        throttle.failed(account)
        body = render_template("admin/login.html", next=target, error=FAILED, email=email)
        return make_response(body, 401)
    # Rotation: whatever session the browser had before is ended, never upgraded.
    sessions.end(sessions.current_token())
    response = redirect(target, 303)
    sessions.set_cookie(response, sessions.start(editor["id"]))
    return response


@bp.post("/logout")
def logout() -> Response:
    """End the session on the server, not only in the browser."""
    sessions.end(sessions.current_token())
    with db.connection() as conn:
        audit.record(conn, g.editor, "sign out", "session")
    response = redirect("/admin/login", 303)
    sessions.clear_cookie(response)
    return response
