"""The Fraud page: flags with evidence for editors; invalidation and undo for admins only."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import psycopg

from fanfare.fraud import detection
from fanfare.web.admin import accounts
from tests.test_admin import ADMIN, accounts_made, app, settings, sign_in  # noqa: F401
from tests.test_admin_publish import PASSWORD, EditorBrowser, fan_get, wait_for, warm
from tests.test_fraud_review import LIMITS, exact_counts, tallies, votes_from
from workers.vote_store import store


def flagged(demo: str) -> int:
    """30 votes from one IP hash for one nominee, flagged; returns the flag's id."""
    with psycopg.connect(demo, autocommit=True) as conn:
        store(conn, votes_from(demo, 30, ip="bot-ip", subnet="bot-net", ua="bot-ua"))
        [(flag_id, *_)] = detection.detect(conn, datetime.now(UTC), LIMITS)
    return flag_id


def counts(demo: str) -> tuple[dict, dict]:
    with psycopg.connect(demo) as conn:
        return tallies(conn), exact_counts(conn)


def test_editors_see_flags_but_only_admins_invalidate(app, accounts_made, demo):  # noqa: F811
    flag_id = flagged(demo)
    editor = app.test_client()
    sign_in(editor)

    page = editor.get("/admin/fraud")
    refused = editor.post("/admin/fraud/invalidate", data={"flag": flag_id, "reason": "bot"})

    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    assert "bot-ip" in body and 'class="fraud-count">30<' in body
    assert "Invalidate these votes" not in body
    assert refused.status_code == 403
    tally, exact = counts(demo)
    assert tally == exact


def test_an_admin_invalidates_a_flag_then_undoes_it(app, accounts_made, demo):  # noqa: F811
    flag_id = flagged(demo)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    before, _ = counts(demo)

    no_reason = admin.post("/admin/fraud/invalidate", data={"flag": flag_id, "reason": " "})
    done = admin.post("/admin/fraud/invalidate", data={"flag": flag_id, "reason": "one IP"})
    after, exact = counts(demo)
    assert done.status_code == 303, done.get_data(as_text=True)
    page = admin.get(done.headers["Location"]).get_data(as_text=True)
    [inv_id] = re.findall(r'action="/admin/fraud/invalidations/(\d+)/undo"', page)
    undone = admin.post(f"/admin/fraud/invalidations/{inv_id}/undo", data={"reason": "checked"})

    assert no_reason.status_code == 400 and "reason is required" in no_reason.get_data(True)
    assert done.status_code == 303 and "30 votes invalidated" in page
    assert sum(before.values()) - sum(after.values()) == 30 and after == exact
    assert undone.status_code == 303
    assert counts(demo) == (before, before)
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert "invalidate votes" in audit and "undo invalidation" in audit


def test_an_admin_invalidates_a_ua_hash_in_a_time_range(app, accounts_made, demo):  # noqa: F811
    flagged(demo)
    admin = app.test_client()
    sign_in(admin, ADMIN)
    now = datetime.now(UTC)
    form = {
        "kind": "ua",
        "subject": "bot-ua",
        "from": (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S"),
        "to": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "reason": "headless",
    }

    backwards = admin.post("/admin/fraud/invalidate", data={**form, "to": form["from"]})
    done = admin.post("/admin/fraud/invalidate", data=form)

    assert backwards.status_code == 400
    assert done.status_code == 303 and "votes=30" in done.headers["Location"]
    tally, exact = counts(demo)
    assert tally == exact


def test_an_invalidation_reaches_fans_through_the_edge_at_once(make_stack, demo, redis_url):
    flag_id = flagged(demo)
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, "boss@example.org", PASSWORD, role="admin")
        (slug,) = conn.execute(
            "SELECT n.slug FROM fraud_flags f JOIN nominees n ON n.id = f.nominee_id"
        ).fetchone()
    edge = make_stack(demo, redis_url, "web", "edge").url()
    page = "/awards/breakthrough-artist"  # cached for minutes; embeds the results island
    warm(edge, [page])
    assert f'data-nominee="{slug}" data-votes="30"' in fan_get(edge + page)[2]
    admin = EditorBrowser(edge)
    admin.sign_in("boss@example.org")

    started = time.monotonic()
    status, landed = admin.post("/admin/fraud/invalidate", flag=str(flag_id), reason="one IP")
    seen = wait_for(edge, page, f'data-nominee="{slug}" data-votes="0"', timeout=5)

    assert status == 200 and "done=invalidated" in landed
    assert seen - started < 1.5
