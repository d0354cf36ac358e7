"""Editors' exports: results per category and per event, with the root, and the audit log."""

from __future__ import annotations

import csv
import io
import re

import psycopg
import pytest

from fanfare.app import create_web_app
from fanfare.infra import db
from fanfare.web.admin import accounts

EDITOR, PASSWORD = "export@example.org", "correct horse battery staple"


@pytest.fixture
def web(demo, redis_url, app_settings):
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, EDITOR, PASSWORD)
        ids = conn.execute(
            "SELECT c.id, c.event_id FROM categories c WHERE slug = 'best-live-performance'"
        ).fetchone()
        # A name a spreadsheet would run as a formula.
        conn.execute("UPDATE nominees SET name = '=HYPERLINK(1)' WHERE id = (SELECT min(id)"
                     " FROM nominees WHERE category_id = %s)", (ids[0],))  # fmt: skip
    app = create_web_app(app_settings(demo, redis_url))
    editor = app.test_client()
    editor.post("/admin/login", data={"email": EDITOR, "password": PASSWORD})
    yield app.test_client(), editor, ids
    db.close(app)


def page_votes(fan) -> dict[str, int]:
    html = fan.get("/awards/best-live-performance/results").get_data(as_text=True)
    return {s: int(v) for s, v in re.findall(r'data-nominee="([^"]+)" data-votes="(\d+)"', html)}


def spreadsheet(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_category_csv_totals_equal_the_page_and_carry_the_root(web):
    fan, editor, (category_id, _) = web
    answer = editor.get(f"/admin/categories/{category_id}/results.csv")

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert (
        'attachment; filename="category-best-live-performance.csv"'
        == (answer.headers["Content-Disposition"])
    )
    rows = spreadsheet(answer.data)
    assert {r["nominee_slug"]: int(r["votes"]) for r in rows} == page_votes(fan)
    assert {int(r["category_total"]) for r in rows} == {sum(page_votes(fan).values())}
    root = re.search(r'data-root="([0-9a-f]{64})"', fan.get(
        "/awards/best-live-performance/results").get_data(as_text=True)).group(1)  # fmt: skip
    assert {r["root"] for r in rows} == {root} and {r["status"] for r in rows} == {"final"}
    assert any(r["nominee"] == "'=HYPERLINK(1)" for r in rows)  # never a live formula


def test_event_json_has_every_category_with_totals_and_roots(web):
    fan, editor, (category_id, event_id) = web
    answer = editor.get(f"/admin/events/{event_id}/results.json")

    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    categories = {c["category"]: c for c in answer.get_json()["categories"]}
    final = categories["best-live-performance"]
    assert final["total"] == sum(page_votes(fan).values())
    assert {r["slug"]: r["votes"] for r in final["results"]} == page_votes(fan)
    assert final["roots"][0]["version"] == 1 and final["roots"][0]["tree_size"] == final["total"]
    assert categories["breakthrough-artist"]["status"] == "voting"
    assert categories["breakthrough-artist"]["roots"] == []


def test_audit_log_csv_and_exports_need_an_editor(web):
    fan, editor, (category_id, _) = web
    editor.post(
        f"/admin/categories/{category_id}",
        data={"name": "Renamed", "slug": "best-live-performance"},
    )
    rows = spreadsheet(editor.get("/admin/audit.csv").data)

    assert rows and rows[-1]["action"] == "save draft" and rows[-1]["editor"] == EDITOR
    for url in ("/admin/audit.csv", f"/admin/categories/{category_id}/results.csv"):
        refused = fan.get(url)
        assert refused.status_code == 303 and "/admin/login" in refused.headers["Location"]
    assert editor.get(f"/admin/categories/{category_id}/results.xml").status_code == 404
    assert editor.get("/admin/categories/999999/results.csv").status_code == 404
