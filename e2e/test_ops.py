"""An operator watches the queue on /admin/ops: it grows while no writer runs, then drains."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from e2e.pages import OpsPage
from fanfare.web.admin.accounts import create_editor
from harness.redis_server import RedisServer
from harness.stack import Stack

pytestmark = [pytest.mark.editor, pytest.mark.local_only]

EMAIL, PASSWORD = "operator@example.org", "a long operator passphrase"
VOTES = 12
# Polling every 2 s plus the exporter's 1 s tick: well inside this, even on a busy machine.
SEEN_WITHIN_MS = 20_000


@pytest.fixture
def ops_stack(databases, make_stack, tmp_path) -> Iterator[Stack]:
    """The whole write path and the exporter, on a seeded database with an editor account.

    With a Redis of its own, like the session's e2e stack: no other writer drains this test's
    queue, and no other test's flush wipes it.
    """
    with RedisServer(workdir=tmp_path) as own_redis:
        yield _ops_stack(databases, own_redis.url, make_stack)


def _ops_stack(databases, redis_url: str, make_stack) -> Stack:
    """Start the stack for ops_stack."""
    database_url = databases.create_demo()
    with psycopg.connect(database_url) as conn:
        create_editor(conn, EMAIL, PASSWORD)
    # Every vote here is a new voter from 127.0.0.1, so the new-voter budget is raised.
    budget = {f"FANFARE_NEW_VOTER_BUDGET_PER_{k}": "100000" for k in ("IP", "SUBNET")}
    return make_stack(
        database_url, redis_url, "web", "ingest", "edge", "worker", "exporter", **budget
    )


def cast_votes(stack: Stack, count: int) -> list[int]:
    """Votes from as many fresh voters (no cookie), through the edge; their statuses."""
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        category, nominee = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' LIMIT 1"
        ).fetchone()
    body = urllib.parse.urlencode({"category": category, "nominee": nominee})
    statuses = []
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", stack.ports["edge"], timeout=15)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}
            conn.request("POST", "/votes", body=body, headers=headers)
            statuses.append(conn.getresponse().status)
        finally:
            conn.close()
    return statuses


def test_queue_depth_rises_while_the_writer_is_stopped_and_drains_after(
    browser: Browser, ops_stack: Stack
):
    context = browser.new_context()
    ops = OpsPage(context.new_page(), ops_stack.url())
    ops.sign_in(EMAIL, PASSWORD)
    expect(ops.heading).to_have_text("Operations")
    expect(ops.value("writers")).to_have_text("1", timeout=SEEN_WITHIN_MS)
    expect(ops.value("queue_depth")).to_have_text("0")

    # Given the writer stopped, when fans vote, then the page (polling, no reload) shows the queue.
    ops_stack.stop("worker")
    assert cast_votes(ops_stack, VOTES) == [202] * VOTES
    expect(ops.value("queue_depth")).to_have_text(str(VOTES), timeout=SEEN_WITHIN_MS)
    # A stopped writer counts as gone once its consumer has been idle for WRITER_IDLE_SECONDS.
    expect(ops.figure("writers")).to_have_class(
        re.compile(r"\blevel-bad\b"), timeout=SEEN_WITHIN_MS
    )
    # The chart has drawn the rise (it is scaled to the threshold, 70% of the measured drain
    # rate, so a dozen votes can lie within a pixel of the baseline: read what it says it shows).
    expect(ops.figure("queue_depth").locator("svg.ops-chart")).to_have_attribute(
        "aria-label", re.compile(rf"up to {VOTES}$"), timeout=SEEN_WITHIN_MS
    )

    # When the writer comes back, the queue drains to 0 on the page.
    ops_stack.start("worker")
    expect(ops.value("queue_depth")).to_have_text("0", timeout=SEEN_WITHIN_MS)
    expect(ops.figure("writers")).to_have_class(re.compile(r"\blevel-ok\b"), timeout=SEEN_WITHIN_MS)
    context.close()


def test_the_refresh_button_updates_the_figures_without_javascript(
    browser: Browser, ops_stack: Stack
):
    context = browser.new_context(java_script_enabled=False)
    ops = OpsPage(context.new_page(), ops_stack.url())
    ops.sign_in(EMAIL, PASSWORD)
    ops_stack.stop("worker")
    assert cast_votes(ops_stack, 3) == [202] * 3
    for _ in range(30):  # no polling without JS: the operator presses Refresh
        ops.refresh()
        if ops.value("queue_depth").text_content() == "3":
            break
        ops.page.wait_for_timeout(500)
    expect(ops.value("queue_depth")).to_have_text("3")
    context.close()
