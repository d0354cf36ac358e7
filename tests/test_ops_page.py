"""/admin/ops: signed-in editors only, never cached, figures coloured against their thresholds."""

from __future__ import annotations

import time

import psycopg
import redis

from fanfare.ops import figures
from fanfare.web.admin import accounts

EMAIL, PASSWORD = "ops@example.org", "a long operator passphrase"


def _signed_in(app, database_url):
    with psycopg.connect(database_url) as conn:
        accounts.create_editor(conn, EMAIL, PASSWORD)
    client = app.test_client()
    assert (
        client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 303
    )
    return client


def test_the_ops_page_is_for_signed_in_editors_only(client):
    for path in ("/admin/ops", "/admin/ops/figures"):
        answer = client.get(path)
        assert answer.status_code == 303 and "/admin/login" in answer.headers["Location"]


def test_figures_show_their_value_threshold_colour_and_chart(app, database_url, redis_url):
    app.config["OPS_THRESHOLDS"] = {"queue_depth": 100}
    client = _signed_in(app, database_url)
    store = redis.Redis.from_url(redis_url)
    try:
        now = time.time()
        for second, depth in enumerate((0, 40, 120)):
            figures.record(store, {"queue_depth": depth, "writers": 0}, at=now - 2 + second)
    finally:
        store.close()

    page = client.get("/admin/ops")
    fragment = client.get("/admin/ops/figures")

    assert page.status_code == 200 and fragment.status_code == 200
    for answer in (page, fragment):
        assert "no-store" in answer.headers["Cache-Control"] and "Set-Cookie" not in answer.headers
    html = fragment.get_data(as_text=True)
    assert 'hx-get="/admin/ops/figures"' in html and "every 2s" in html
    assert '<li class="ops-figure level-warn" data-figure="queue_depth">' in html
    assert 'data-testid="queue_depth">120<' in html and "threshold 100" in html
    assert '<li class="ops-figure level-bad" data-figure="writers">' in html  # none running
    assert "<polyline points=" in html and "exporter" not in html  # fresh samples, no warning
    assert 'action="/admin/ops"' in page.get_data(as_text=True)  # the no-JS refresh


def test_without_samples_the_page_says_the_exporter_is_not_running(app, database_url):
    html = _signed_in(app, database_url).get("/admin/ops").get_data(as_text=True)
    assert "is the <code>exporter</code> process running?" in html
