"""Publishing through a real Varnish: fans see changes within a second, nothing else is purged,
and the scheduler publishes scheduled changes on time."""

from __future__ import annotations

import http.cookiejar
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from edge_http import fan_get

from fanfare.edge.purge import PurgeClient
from fanfare.votes.ballot import SHARED_CACHE_KEY, SHARED_CACHE_PREFIX
from fanfare.web.admin import accounts
from workers import scheduler

PASSWORD = "correct horse battery staple"
OLD_BIO = "borrowed laptop between shifts"


class EditorBrowser:
    """An editor talking to the editor area through the edge, with a cookie jar."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def post(self, path: str, **form: str) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + path, data=data, timeout=10) as response:
            return response.status, response.url

    def sign_in(self, email: str) -> None:
        status, landed = self.post("/admin/login", email=email, password=PASSWORD)
        assert status == 200 and landed.endswith("/admin/")

    def save_nominee(self, nominee_id: int, **changes: str) -> None:
        form = {"name": "Nova Reyes", "slug": "nova-reyes", "tagline": "Bedroom pop", **changes}
        status, landed = self.post(f"/admin/nominees/{nominee_id}", **form)
        assert status == 200 and "done=saved" in landed


def ids(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        accounts.create_editor(conn, "ed@example.org", PASSWORD)
        nominee, category = conn.execute(
            "SELECT id, category_id FROM nominees WHERE slug = 'nova-reyes'"
        ).fetchone()
    return nominee, category


def warm(base: str, paths: list[str]) -> None:
    """Fetch each page until the edge serves it from cache."""
    for path in paths:
        fan_get(base + path)
        status, cache, _ = fan_get(base + path)
        assert (status, cache) == (200, "HIT"), path


def wait_for(base: str, path: str, text: str, *, timeout: float, gone: bool = False) -> float:
    """Poll a fan page until it contains text (or no longer does); return when it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = fan_get(base + path)
        if status == 200 and (text not in body if gone else text in body):
            return time.monotonic()
        time.sleep(0.02)
    pytest.fail(f"{path} {'still' if gone else 'did not'} show {text!r} after {timeout} s")


def test_publishing_reaches_fans_through_the_edge_within_a_second(make_stack, demo, redis_url):
    nominee, _ = ids(demo)
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    target = "/nominees/nova-reyes"
    # Pages that do not show this nominee's bio: same category, another category, home, history.
    others = ["/", "/history", "/nominees/juno-park", "/awards/song-of-the-year", "/nominees/tidal"]
    warm(edge, [target, *others])
    editor = EditorBrowser(edge)
    editor.sign_in("ed@example.org")

    editor.save_nominee(nominee, bio="Now headlining **three** festivals.")
    status, cache, body = fan_get(edge + target)
    assert (status, cache) == (200, "HIT") and OLD_BIO in body and "festivals" not in body

    started = time.monotonic()
    editor.post(f"/admin/nominees/{nominee}/publish")
    seen = wait_for(edge, target, "Now headlining <strong>three</strong> festivals.", timeout=5)

    print(f"publish to fresh page through the edge: {seen - started:.3f} s")
    assert seen - started < 1.0
    for path in others:
        status, cache, _ = fan_get(edge + path)
        assert (status, cache) == (200, "HIT"), f"{path} was purged too"


def test_unpublishing_takes_the_page_away_through_the_edge(make_stack, demo, redis_url):
    nominee, _ = ids(demo)
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    warm(edge, ["/nominees/nova-reyes", "/awards/breakthrough-artist"])
    editor = EditorBrowser(edge)
    editor.sign_in("ed@example.org")

    started = time.monotonic()
    editor.post(f"/admin/nominees/{nominee}/unpublish")

    while fan_get(edge + "/nominees/nova-reyes")[0] != 404:
        assert time.monotonic() - started < 1.0, "the unpublished page is still served"
        time.sleep(0.02)
    wait_for(edge, "/awards/breakthrough-artist", "Nova Reyes", timeout=1, gone=True)
    assert "Kai Okonkwo" in fan_get(edge + "/awards/breakthrough-artist")[2]


def test_scheduled_publish_happens_on_time(make_stack, demo, redis_url):
    nominee, category = ids(demo)
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    editor = EditorBrowser(edge)
    editor.sign_in("ed@example.org")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    at = due.strftime("%Y-%m-%dT%H:%M:%S")
    # A change to a live page, and a brand-new page, both scheduled for the same moment.
    editor.save_nominee(nominee, bio="Scheduled *reveal*.")
    editor.post(f"/admin/nominees/{nominee}/publish", publish_at=at)
    status, created = editor.post(
        f"/admin/categories/{category}/nominees/new",
        name="Rae Nightingale",
        slug="rae-nightingale",
        bio="The surprise nominee.",
    )
    new_id = int(urllib.parse.urlsplit(created).path.rsplit("/", 1)[1])
    editor.post(f"/admin/nominees/{new_id}/publish", publish_at=at)
    warm(edge, ["/nominees/nova-reyes", "/awards/breakthrough-artist"])
    assert fan_get(edge + "/nominees/rae-nightingale")[0] == 404  # cached as `missing`

    shared = redis.Redis.from_url(redis_url)
    shared.set(SHARED_CACHE_PREFIX + SHARED_CACHE_KEY, b"the ballot before the publish")
    worker = scheduler.Scheduler(
        conninfo=demo, purger=PurgeClient([edge]), redis_client=shared, jobs=scheduler.JOBS
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        due_mono = time.monotonic() + (due - datetime.now(UTC)).total_seconds()
        early = fan_get(edge + "/nominees/nova-reyes")[2]
        assert "Scheduled" not in early and time.monotonic() < due_mono - 0.5
        bio_seen = wait_for(edge, "/nominees/nova-reyes", "Scheduled <em>reveal</em>.", timeout=10)
        new_seen = wait_for(edge, "/nominees/rae-nightingale", "The surprise nominee.", timeout=5)
        listed = wait_for(edge, "/awards/breakthrough-artist", "Rae Nightingale", timeout=5)
    finally:
        worker.stopping = True
        thread.join(timeout=10)
    for seen in (bio_seen, new_seen, listed):
        # Not before the moment (small allowance for clock reading), and within a second of it.
        assert due_mono - 0.1 <= seen <= due_mono + 1.0, seen - due_mono
    with psycopg.connect(demo) as conn:
        assert conn.execute("SELECT count(*) FROM drafts").fetchone() == (0,)
        actions = conn.execute(
            "SELECT editor_email, action FROM audit_log WHERE target_id = %s ORDER BY id",
            (nominee,),
        ).fetchall()
    assert actions[-2:] == [("ed@example.org", "schedule"), ("scheduler", "publish")]
    # The same after-publish step as the editor area's: ingest reloads its ballot too.
    assert not shared.exists(SHARED_CACHE_PREFIX + SHARED_CACHE_KEY)
    shared.close()
