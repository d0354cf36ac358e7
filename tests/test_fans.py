"""Fan accounts: magic links over real SMTP, single use, expiry, cookie scope, erasure."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

from fanfare.fans import outbox, sessions
from fanfare.predictions import queue
from tests.fan_support import (
    deliver,
    fan_app,
    fan_ids,
    make_round,
    sign_in,
    smtp_fixture,  # noqa: F401  (the smtp fixture)
)

EMAIL = "Fan@Example.org"


@pytest.fixture
def app(demo, redis_url, app_settings, smtp):
    settings = app_settings(
        demo,
        redis_url,
        SMTP_URL=smtp.url,
        SIGN_IN_LIMIT_PER_EMAIL="3 per minute",
        SIGN_IN_LIMIT_PER_IP="100 per minute",
    )
    yield from fan_app(settings)


def test_a_magic_link_signs_in_once_and_the_cookie_stays_under_account(client, smtp, demo):
    path = sign_in(client, smtp, EMAIL)
    cookie = client.get_cookie(sessions.COOKIE, path="/account")
    assert cookie is not None and cookie.http_only and cookie.path == "/account"
    page = client.get("/account")
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "Hello, fan-" in page.get_data(as_text=True)
    # The address itself is stored nowhere: only a keyed hash.
    with psycopg.connect(demo) as conn:
        stored = conn.execute("SELECT email_hash, nickname FROM fans").fetchall()
    assert len(stored) == 1 and "example" not in str(stored).lower()
    # Reused: refused, on the confirm page and on the POST.
    assert client.get(path).status_code == 410
    assert client.post(path).status_code == 410
    # A second sign-in with the same address finds the same account (address case-folded).
    other = client.application.test_client()
    sign_in(other, smtp, EMAIL.lower())
    assert len(fan_ids(demo)) == 1


def test_an_expired_or_forged_link_is_refused(app, client, smtp):
    app.config["MAGIC_LINK_SECONDS"] = 1
    client.post("/account/sign-in", data={"email": "late@example.org"})
    deliver(client, smtp)
    path = urlsplit(smtp.wait_link("late@example.org")).path
    time.sleep(2.1)
    assert client.post(path).status_code == 410
    assert client.post(path[:-3] + "abc").status_code == 410
    assert client.get_cookie(sessions.COOKIE, path="/account") is None


def test_sign_in_never_reveals_an_account_and_is_throttled_per_address(client, smtp):
    sign_in(client, smtp, "known@example.org")
    known = client.post("/account/sign-in", data={"email": "known@example.org"})
    unknown = client.post("/account/sign-in", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert "sign-in link is on its way" in known.get_data(as_text=True)
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True).replace(
        "nobody@example.org", "known@example.org"
    )
    # Three links a minute per address (this app's setting): the first came from sign_in().
    assert client.post("/account/sign-in", data={"email": "known@example.org"}).status_code == 200
    assert client.post("/account/sign-in", data={"email": "KNOWN@example.org"}).status_code == 429
    assert client.post("/account/sign-in", data={"email": "not an address"}).status_code == 400


def test_mail_waits_in_the_outbox_while_the_mail_server_is_down(client, smtp):
    r = client.application.extensions["fanfare.redis"]
    answer = client.post("/account/sign-in", data={"email": "x@example.org"})
    assert answer.status_code == 200  # queued: the request never waits for SMTP
    assert outbox.send_pending(r, "smtp://127.0.0.1:1", "fanfare <t@example.org>") == 0
    assert r.llen(outbox.OUTBOX) == 1 and r.llen(outbox.SENDING) == 0
    assert deliver(client, smtp) == 1
    assert smtp.wait_link("x@example.org") and r.llen(outbox.OUTBOX) == 0


def test_cacheable_pages_never_set_or_read_the_fan_cookie(client, smtp):
    sign_in(client, smtp, EMAIL)
    for path in ("/leaderboard", "/predictions"):
        page = client.get(path)
        assert page.headers["Cache-Control"].startswith("public")
        assert "Set-Cookie" not in page.headers
        assert "Hello" not in page.get_data(as_text=True)


def test_nickname_sign_out_and_cross_origin(client, smtp):
    sign_in(client, smtp, EMAIL)
    assert client.post("/account/nickname", data={"nickname": "x"}).status_code == 400
    assert (
        client.post("/account/nickname", data={"nickname": "Queen <b>Bee</b>"}).status_code == 303
    )
    assert "Queen &lt;b&gt;Bee&lt;/b&gt;" in client.get("/account").get_data(as_text=True)
    forged = client.post(
        "/account/sign-out",
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert client.post("/account/sign-out").status_code == 303
    assert "Sign in" in client.get("/account").get_data(as_text=True)
    assert client.post("/account/nickname", data={"nickname": "Again"}).status_code == 401


def test_delete_my_account_erases_it_and_anonymises_predictions(app, client, smtp, demo):
    sign_in(client, smtp, EMAIL)
    (fan,) = fan_ids(demo)
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    assert (
        client.post(f"/account/predictions/{rid}", data={"option": options[1]}).status_code == 303
    )
    with psycopg.connect(demo) as conn, app.app_context():
        queue.persist(conn, app.extensions["fanfare.redis"])
    assert client.post("/account/delete", data={}).status_code == 400
    assert client.post("/account/delete", data={"confirm": "yes"}).status_code == 200
    assert fan_ids(demo) == []
    with psycopg.connect(demo) as conn:
        rows = conn.execute("SELECT fan_id, option_ids FROM predictions").fetchall()
    assert rows == [(None, [options[1]])]
    assert client.get_cookie(sessions.COOKIE, path="/account") is None
    assert client.post("/account/nickname", data={"nickname": "Ghost"}).status_code == 401
