"""Admins manage editor accounts: create, change role, disable (which ends their sessions)."""

from __future__ import annotations

from flask import abort, g, make_response, redirect, render_template, request
from flask.wrappers import Response

from fanfare.content import audit
from fanfare.infra import db
from fanfare.web.admin import accounts, sessions
from fanfare.web.admin.base import admin_required, bp


def _page(error: str | None = None, status: int = 200) -> Response:
    with db.connection() as conn:
        editors = accounts.list_editors(conn)
    body = render_template(
        "admin/editors.html", editors=editors, error=error, done=request.args.get("done")
    )
    return make_response(body, status)


@bp.get("/editors")
@admin_required
def editors() -> Response:
    """Every account."""
    return _page()


@bp.post("/editors")
@admin_required
def create_editor() -> Response:
    """Create an account with a first password the admin hands over."""
    email, role = request.form.get("email", ""), request.form.get("role", "editor")
    try:
        with db.connection() as conn:
            new_id = accounts.create_editor(conn, email, request.form.get("password", ""), role)
            audit.record(conn, g.editor, "create account", "editor", new_id, {"role": role})
    except accounts.AccountError as exc:
        return _page(str(exc), 400)
    return redirect("/admin/editors?done=created", 303)


@bp.post("/editors/<int:editor_id>")
@admin_required
def change_editor(editor_id: int) -> Response:
    """Change a role, or disable/enable an account; disabling ends its sessions at once."""
    action = request.form.get("action")
    if editor_id == g.editor["id"]:
        return _page("You cannot change your own account here.", 400)
    with db.connection() as conn:
        if action == "disable":
            accounts.set_active(conn, editor_id, False)
        elif action == "enable":
            accounts.set_active(conn, editor_id, True)
        elif action in ("make-admin", "make-editor"):
            accounts.set_role(conn, editor_id, action.removeprefix("make-"))
        else:
            abort(400)
        audit.record(conn, g.editor, action, "editor", editor_id)
    if action == "disable":
        sessions.end_all(editor_id)
    return redirect("/admin/editors?done=changed", 303)
