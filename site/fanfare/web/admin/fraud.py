"""The Fraud page: velocity flags newest first with their evidence, and (admins) invalidation.

Invalidating or undoing is one transaction (fraud/invalidation.py); after COMMIT the results of
the categories it touched are purged at the edge by the one after-publish step.
"""

from __future__ import annotations

from flask import current_app, g, make_response, redirect, render_template, request
from flask.wrappers import Response
from psycopg.rows import dict_row

from fanfare.content import after_publish
from fanfare.edge import keys, purge
from fanfare.fraud import invalidation
from fanfare.fraud.invalidation import NothingToDo, Selection
from fanfare.fraud.rate import fraud_rate
from fanfare.infra import db, redis_client, sql
from fanfare.web.admin.base import admin_required, bp
from fanfare.web.admin.forms import parse_time

Q = sql.queries("fraud")


def _page(error: str | None = None, status: int = 200) -> Response:
    with db.connection() as conn:
        with conn.cursor(row_factory=dict_row) as cur:
            flags = cur.execute(Q.flags_newest, (200,)).fetchall()
        body = render_template(
            "admin/fraud.html",
            flags=flags,
            invalidations=invalidation.recent(conn),
            rate=fraud_rate(conn),
            error=error,
            done=request.args.get("done"),
            votes=request.args.get("votes"),
        )
    return make_response(body, status)


def _purge_results(category_ids: set[int]) -> None:
    """After COMMIT: the changed tallies reach fans through the edge within a second."""
    purger = current_app.extensions[purge.EXTENSION]
    # Results, category pages and history: a final category's winner and root may have moved.
    changed = set().union(*map(keys.results_settled, category_ids))
    after_publish.announce(changed, purger=purger, redis_client=redis_client.client())


@bp.get("/fraud")
def fraud() -> Response:
    """Flags, newest first, the recent invalidations and the fraud rate."""
    return _page()


def _selection() -> Selection:
    """A hash and a time range from the form (UTC), or NothingToDo."""
    form = request.form
    try:
        start, end = parse_time(form.get("from", "")), parse_time(form.get("to", ""))
    except ValueError:
        raise NothingToDo("give the time range as date and time (UTC)") from None
    if start is None or end is None or end <= start:
        raise NothingToDo("give a time range that ends after it starts")
    return Selection(kind=form.get("kind", ""), subject=form.get("subject", "").strip(),
                     start=start, end=end)  # fmt: skip


@bp.post("/fraud/invalidate")
@admin_required
def invalidate() -> Response:
    """Invalidate the votes behind a flag, or of a subnet/UA/IP hash within a time range."""
    reason = request.form.get("reason", "")
    try:
        with db.connection() as conn:
            flag_id = request.form.get("flag", "")
            if flag_id.isdigit():
                selection = invalidation.for_flag(conn, int(flag_id))
            else:
                selection = _selection()
            _, count, categories = invalidation.invalidate(conn, g.editor, selection, reason)
    except NothingToDo as exc:
        return _page(str(exc), 400)
    _purge_results(categories)
    return redirect(f"/admin/fraud?done=invalidated&votes={count}", 303)


@bp.post("/fraud/invalidations/<int:invalidation_id>/undo")
@admin_required
def undo(invalidation_id: int) -> Response:
    """Count an invalidation's votes again."""
    try:
        with db.connection() as conn:
            count, categories = invalidation.undo(
                conn, g.editor, invalidation_id, request.form.get("reason", "")
            )
    except NothingToDo as exc:
        return _page(str(exc), 400)
    _purge_results(categories)
    return redirect(f"/admin/fraud?done=restored&votes={count}", 303)
