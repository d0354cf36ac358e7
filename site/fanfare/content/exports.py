"""What editors export: results per category or event, with the published roots, and the audit log.

Rows come straight from tallies and tally_roots, every nominee included (an unpublished nominee's
votes still count), so the totals are the results page's. Framework-free.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg.rows import dict_row

from fanfare.content import tally_proof
from fanfare.infra import sql

Q = sql.queries("exports")

CSV_HEADER = [
    "event", "category", "status", "nominee", "nominee_slug", "votes", "share_percent",
    "category_total", "root", "root_version", "root_tree_size", "root_reason",
]  # fmt: skip
AUDIT_HEADER = ["at", "editor", "action", "kind", "target_id", "detail"]


def _status(row: dict) -> str:
    if row["counted_at"] is not None:
        return "final"
    if row["closed"]:
        return "counting"
    return "voting" if row["closes_at"] is not None else "no window"


def category_results(conn: psycopg.Connection, where: str, params: tuple) -> list[dict]:
    """Each matching category with its status, per-nominee results and roots (newest first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        categories = cur.execute(Q.categories.format(where=where), params).fetchall()
        for category in categories:
            results = cur.execute(Q.results, (category["id"],)).fetchall()
            total = sum(r["votes"] for r in results)
            for r in results:
                r["share"] = round(100 * r["votes"] / total, 1) if total else 0.0
            category.update(
                status=_status(category),
                total=total,
                results=results,
                roots=tally_proof.roots(conn, category["id"]),
            )
    return categories


def as_json(categories: list[dict]) -> list[dict]:
    """The export's JSON shape: plain values, times as ISO 8601."""
    return [
        {
            "event": c["event_slug"],
            "category": c["slug"],
            "name": c["name"],
            "status": c["status"],
            "results_mode": c["results_mode"],
            "total": c["total"],
            "results": [
                {k: r[k] for k in ("nominee_id", "slug", "name", "votes", "share", "published")}
                for r in c["results"]
            ],
            "roots": [{**r, "published_at": r["published_at"].isoformat()} for r in c["roots"]],
        }
        for c in categories
    ]


def csv_rows(categories: list[dict]) -> Iterator[list]:
    """One row per nominee, each with its category's total and current root."""
    yield CSV_HEADER
    for c in categories:
        root = c["roots"][0] if c["roots"] else {}
        for r in c["results"]:
            yield [
                c["event_name"], c["name"], c["status"], r["name"], r["slug"], r["votes"],
                r["share"], c["total"], root.get("root", ""), root.get("version", ""),
                root.get("tree_size", ""), root.get("reason", ""),
            ]  # fmt: skip


def audit_rows(conn: psycopg.Connection) -> Iterator[list]:
    """The whole audit log, oldest first, as CSV rows."""
    yield AUDIT_HEADER
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(Q.audit_log)
        for row in cur:
            yield [row["at"].isoformat(), *(row[k] for k in AUDIT_HEADER[1:])]
