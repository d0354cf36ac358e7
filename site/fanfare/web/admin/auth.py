"""Sign in and sign out: throttled, same answer for unknown accounts, a fresh session each time."""

from __future__ import annotations

from flask import current_app, g, make_response, redirect, render_template, request
from flask.wrappers import Response

from fanfare.content import audit
from fanfare.http.ratelimit import client_ip, limiter
from fanfare.infra import db
from fanfare.web.admin import accounts, sessions
from fanfare.web.admin.base import bp

FAILED = "That email and password do not match an account."


def _account_key() -> str:
    """Throttle by the account being tried, whether it exists or not."""
    return "admin-login-account:" + accounts.normalize_email(request.form.get("email", ""))


def _ip_key() -> str:
    return "admin-login-ip:" + client_ip()


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
@limiter.limit(
    lambda: current_app.config["ADMIN_LOGIN_LIMIT_IP"],
    key_func=_ip_key,
    error_message="Too many sign-in attempts from here. Please wait a minute and try again.",
)
@limiter.limit(
    lambda: current_app.config["ADMIN_LOGIN_LIMIT_ACCOUNT"],
    key_func=_account_key,
    error_message="Too many sign-in attempts for this account. Please wait and try again.",
)
def login() -> Response:
    """Check the password (always one hash verify) and start a new session."""
    email = request.form.get("email", "")
    target = _safe_next(request.form.get("next"))
    with db.connection() as conn:
        editor = accounts.authenticate(conn, email, request.form.get("password", ""))
        if editor is not None:
            audit.record(conn, editor, "sign in", "session")
    if editor is None:
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
