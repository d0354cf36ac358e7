"""Reveal on cue: an editor reveals an on_cue category's results now or at a set time."""

from __future__ import annotations

from flask import g, redirect, request
from flask_babel import gettext as _

from fanfare.content import catalog, reveal
from fanfare.infra import db
from fanfare.web.admin import forms
from fanfare.web.admin.base import bp

# The edit page and the after-publish step are editing.py's; a reveal reuses both as they are.
from fanfare.web.admin.editing import _announce, _edit_page


@bp.post("/categories/<int:category_id>/reveal")
def reveal_results(category_id: int):
    """Reveal now, or at `reveal_at` (UTC); audited, and the edge purged after COMMIT."""
    try:
        at = forms.parse_time(request.form.get("reveal_at", ""))
    except ValueError:
        errors = {"reveal": _("Enter a date and time.")}
        return _edit_page("category", category_id, errors=errors, status=400)
    now = catalog.now()
    at = at if at is not None and at > now else now  # a time in the past means now
    try:
        with db.connection() as conn:
            changed = reveal.reveal(conn, category_id, g.editor, at)
    except reveal.RevealError as exc:
        return _edit_page("category", category_id, errors={"reveal": str(exc)}, status=409)
    _announce(changed)
    done = "revealed" if at == now else "reveal-scheduled"
    return redirect(f"/admin/categories/{category_id}?done={done}", 303)
