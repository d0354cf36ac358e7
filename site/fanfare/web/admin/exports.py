"""Editors' downloads: results (CSV, JSON) per category and per event, and the audit log (CSV).

Private like all of /admin (base.no_store), and attachments, so a browser saves them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from flask import abort, current_app
from flask.wrappers import Response

from fanfare.content import exports
from fanfare.infra import db
from fanfare.web.admin.base import bp

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv(rows: Iterable[list], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    # The BOM makes spreadsheets read the file as UTF-8 (names with accents).
    return _download("\ufeff" + out.getvalue(), "text/csv", filename)


def _results(where: str, target_id: int, fmt: str, name: str) -> Response:
    if fmt not in ("csv", "json"):
        abort(404)
    with db.connection() as conn:
        categories = exports.category_results(conn, where, (target_id,))
    if not categories:
        abort(404)
    filename = f"{name}-{categories[0]['slug' if name == 'category' else 'event_slug']}.{fmt}"
    if fmt == "csv":
        return _csv(exports.csv_rows(categories), filename)
    body = json.dumps({"categories": exports.as_json(categories)}, indent=2)
    return _download(body + "\n", "application/json", filename)


@bp.get("/categories/<int:category_id>/results.<fmt>")
def category_results(category_id: int, fmt: str) -> Response:
    """One category's results with its roots."""
    return _results("c.id = %s", category_id, fmt, "category")


@bp.get("/events/<int:event_id>/results.<fmt>")
def event_results(event_id: int, fmt: str) -> Response:
    """Every category of an event."""
    return _results("c.event_id = %s", event_id, fmt, "event")


@bp.get("/audit.csv")
def audit_csv() -> Response:
    """The whole audit log."""
    with db.connection() as conn:
        return _csv(exports.audit_rows(conn), "audit-log.csv")
