"""The editor area: sign-in, sessions, throttling, origin check, drafts, preview and publishing."""

from __future__ import annotations

import re
import statistics
import time

import psycopg
import pytest

from fanfare.app import create_web_app
from fanfare.infra import db
from fanfare.web.admin import accounts

PASSWORD = "correct horse battery staple"


EDITOR = "ed@example.org"
ADMIN = "boss@example.org"


@pytest.fixture
def settings(demo, redis_url, tmp_path, app_settings):
    """Settings of a web app on the demo event, with generous sign-in limits."""
    return app_settings(
        demo,
        redis_url,
        MEDIA_ROOT=str(tmp_path / "media"),
        ADMIN_LOGIN_LIMIT_ACCOUNT="1000 per minute",
        ADMIN_LOGIN_LIMIT_IP="1000 per minute",
    )


@pytest.fixture
def app(settings):
    app = create_web_app(settings)
    yield app
    db.close(app)


@pytest.fixture
def accounts_made(demo):
    """One editor and one admin, created through the app's own code path."""
    with psycopg.connect(demo) as conn:
        ids = {
            EDITOR: accounts.create_editor(conn, EDITOR, PASSWORD),
            ADMIN: accounts.create_editor(conn, ADMIN, PASSWORD, role="admin"),
        }
    return ids


def sign_in(client, email=EDITOR, password=PASSWORD):
    return client.post("/admin/login", data={"email": email, "password": password})


def session_cookie(client):
    cookie = client.get_cookie("fanfare_admin", path="/admin")
    return cookie.value if cookie else None


def nominee_id(database_url, slug="nova-reyes"):
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id FROM nominees WHERE slug = %s", (slug,)).fetchone()[0]


def nominee_form(**changes):
    form = {
        "name": "Nova Reyes",
        "slug": "nova-reyes",
        "tagline": "Bedroom pop from Valparaíso",
        "bio": "Nova Reyes recorded her first EP on a borrowed laptop.",
        "position": "0",
    }
    return {**form, **changes}


# ---- accounts and sign-in --------------------------------------------------------------------


def test_create_editor_command_reads_the_password_from_stdin(app, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-editor", "New@Example.org", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    with psycopg.connect(demo) as conn:
        row = conn.execute("SELECT email, role, password_hash FROM editors").fetchone()
    email, role, hashed = row
    assert (email, role) == ("new@example.org", "admin")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in hashed

    short = runner.invoke(args=["create-editor", "x@example.org"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output


def test_sign_in_sets_a_strict_http_only_cookie_scoped_to_admin(client, accounts_made):
    response = sign_in(client)

    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("fanfare_admin=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # development serves plain http
    page = client.get("/admin/")
    assert page.status_code == 200 and EDITOR in page.get_data(as_text=True)


def test_the_cookie_is_secure_outside_development(settings, accounts_made):
    app = create_web_app({**settings, "ENV": "production"})
    try:
        response = sign_in(app.test_client())
    finally:
        db.close(app)
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_and_unknown_account_get_the_same_answer(client, accounts_made):
    wrong = sign_in(client, EDITOR, "not the password at all")
    unknown = sign_in(client, "nobody@example.org", PASSWORD)

    assert wrong.status_code == unknown.status_code == 401
    assert "Set-Cookie" not in wrong.headers and "Set-Cookie" not in unknown.headers
    body = wrong.get_data(as_text=True).replace(EDITOR, "EMAIL")
    assert body == unknown.get_data(as_text=True).replace("nobody@example.org", "EMAIL")
    assert "do not match an account" in body
    assert client.get("/admin/").status_code == 303


def test_known_and_unknown_accounts_take_the_same_time(client, accounts_made):
    # Both paths verify one argon2id hash; without the decoy, unknown accounts answer ~30x faster.
    known, unknown = [], []
    for _ in range(9):
        for email, times in ((EDITOR, known), ("ghost@example.org", unknown)):
            started = time.perf_counter()
            assert sign_in(client, email, "wrong password here").status_code == 401
            times.append(time.perf_counter() - started)
    ratio = statistics.median(known) / statistics.median(unknown)
    print(
        f"sign-in medians: known {statistics.median(known):.4f} s, unknown "
        f"{statistics.median(unknown):.4f} s, ratio {ratio:.2f}"
    )
    assert 0.67 < ratio < 1.5, (statistics.median(known), statistics.median(unknown))


def test_sign_in_is_throttled_per_account(settings, accounts_made):
    app = create_web_app({**settings, "ADMIN_LOGIN_LIMIT_ACCOUNT": "3 per minute"})
    client = app.test_client()
    try:
        statuses = [sign_in(client, EDITOR, f"guess number {i}").status_code for i in range(3)]
        blocked = sign_in(client, EDITOR, PASSWORD)  # even the right password now waits
        unknown = [sign_in(client, "ghost@example.org", "guess").status_code for _ in range(4)]
        other = sign_in(client, ADMIN, PASSWORD)
    finally:
        db.close(app)
    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429 and "Set-Cookie" not in blocked.headers
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    assert unknown == [401, 401, 401, 429]  # unknown accounts are throttled the same way
    assert other.status_code == 303


def test_sign_in_is_throttled_per_ip(settings, accounts_made):
    app = create_web_app({**settings, "ADMIN_LOGIN_LIMIT_IP": "4 per minute"})
    client = app.test_client()
    try:
        statuses = [sign_in(client, f"user{i}@example.org", "guess").status_code for i in range(5)]
    finally:
        db.close(app)
    assert statuses == [401, 401, 401, 401, 429]


def test_the_session_is_rotated_at_sign_in(app, accounts_made):
    # A session id planted before sign-in (fixation) is never the one that gets signed in.
    client = app.test_client()
    client.set_cookie("fanfare_admin", "planted-by-an-attacker", path="/admin")
    sign_in(client)
    first = session_cookie(client)
    assert first and first != "planted-by-an-attacker"

    sign_in(client)
    second = session_cookie(client)
    assert second != first

    stale = app.test_client()
    stale.set_cookie("fanfare_admin", first, path="/admin")
    assert stale.get("/admin/").status_code == 303  # the old session ended at rotation
    planted = app.test_client()
    planted.set_cookie("fanfare_admin", "planted-by-an-attacker", path="/admin")
    assert planted.get("/admin/").status_code == 303
    assert client.get("/admin/").status_code == 200


def test_sign_out_really_ends_the_session(app, accounts_made):
    client = app.test_client()
    sign_in(client)
    token = session_cookie(client)

    response = client.post("/admin/logout")

    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert "fanfare_admin=;" in response.headers["Set-Cookie"]
    replay = app.test_client()
    replay.set_cookie("fanfare_admin", token, path="/admin")
    answer = replay.get("/admin/")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/admin/login")


def test_disabling_an_account_ends_its_sessions(app, accounts_made):
    editor, boss = app.test_client(), app.test_client()
    sign_in(editor)
    sign_in(boss, ADMIN)
    assert editor.get("/admin/").status_code == 200

    response = boss.post(f"/admin/editors/{accounts_made[EDITOR]}", data={"action": "disable"})

    assert response.status_code == 303
    assert editor.get("/admin/").status_code == 303
    assert sign_in(editor).status_code == 401


def test_only_admins_manage_editors(client, accounts_made):
    sign_in(client)
    assert client.get("/admin/editors").status_code == 403
    response = client.post(
        "/admin/editors", data={"email": "x@example.org", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 403


def test_an_admin_creates_an_editor_who_can_sign_in(app, accounts_made):
    boss = app.test_client()
    sign_in(boss, ADMIN)
    response = boss.post(
        "/admin/editors", data={"email": "new@example.org", "password": PASSWORD, "role": "editor"}
    )
    assert response.status_code == 303
    assert sign_in(app.test_client(), "new@example.org").status_code == 303


# ---- the rules every /admin response follows ---------------------------------------------------


def test_cross_origin_posts_to_admin_are_refused(app, demo, accounts_made):
    client = app.test_client()
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert (
        client.post(
            "/admin/login", data={"email": EDITOR, "password": PASSWORD}, headers=evil
        ).status_code
        == 403
    )
    sign_in(client)
    target = nominee_id(demo)
    response = client.post(f"/admin/nominees/{target}/unpublish", headers=evil)
    assert response.status_code == 403
    assert client.get("/nominees/nova-reyes").status_code == 200  # nothing happened
    same = client.post(
        f"/admin/nominees/{target}",
        data=nominee_form(bio="Same-site edit"),
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303


def test_every_admin_response_is_private_and_untagged(client, demo, accounts_made):
    answers = [client.get("/admin/"), client.get("/admin/login"), sign_in(client, EDITOR, "bad")]
    sign_in(client)
    target = nominee_id(demo)
    answers += [
        client.get("/admin/"),
        client.get(f"/admin/nominees/{target}"),
        client.get(f"/admin/nominees/{target}/preview"),
        client.get("/admin/nominees/999999"),
        client.get("/admin/no-such-page"),
        client.post(f"/admin/nominees/{target}", data=nominee_form(slug="Not A Slug")),
    ]
    for response in answers:
        assert response.headers["Cache-Control"] == "private, no-store", response.request.path
        assert "xkey" not in response.headers


def test_fan_pages_never_carry_or_set_the_editor_cookie(client, accounts_made):
    sign_in(client)
    assert client.get_cookie("fanfare_admin", path="/") is None
    response = client.get("/nominees/nova-reyes")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"].startswith("public")


# ---- drafts, preview, publishing ---------------------------------------------------------------


def test_a_draft_is_invisible_to_fans_and_the_preview_shows_it(client, demo, accounts_made):
    sign_in(client)
    target = nominee_id(demo)
    bio = "She now plays *stadiums*.\n\n<script>alert('x')</script> [site](javascript:alert(1))"

    saved = client.post(f"/admin/nominees/{target}", data=nominee_form(bio=bio))

    assert saved.status_code == 303
    fan = client.get("/nominees/nova-reyes").get_data(as_text=True)
    assert "stadiums" not in fan and "borrowed laptop between shifts" in fan
    preview = client.get(f"/admin/nominees/{target}/preview")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "She now plays <em>stadiums</em>." in html
    assert "<script>alert" not in html and 'href="javascript' not in html
    assert "Preview of unpublished changes" in html

    published = client.post(f"/admin/nominees/{target}/publish")

    assert published.status_code == 303
    fan = client.get("/nominees/nova-reyes").get_data(as_text=True)
    assert "She now plays <em>stadiums</em>." in fan
    assert "<script>alert" not in fan and 'href="javascript' not in fan
    with psycopg.connect(demo) as conn:
        log = conn.execute(
            "SELECT editor_email, action FROM audit_log WHERE kind = 'nominee' ORDER BY id"
        ).fetchall()
        drafts = conn.execute("SELECT count(*) FROM drafts").fetchone()[0]
    assert log == [(EDITOR, "save draft"), (EDITOR, "publish")]
    assert drafts == 0


def test_a_new_nominee_is_a_draft_until_published_then_unpublished(client, demo, accounts_made):
    sign_in(client)
    with psycopg.connect(demo) as conn:
        category = conn.execute(
            "SELECT id FROM categories WHERE slug = 'breakthrough-artist'"
        ).fetchone()[0]
    created = client.post(
        f"/admin/categories/{category}/nominees/new",
        data=nominee_form(name="Rae Nightingale", slug="rae-nightingale", bio="New **voice**."),
    )
    assert created.status_code == 303
    new_id = int(re.search(r"/admin/nominees/(\d+)", created.headers["Location"]).group(1))
    assert client.get("/nominees/rae-nightingale").status_code == 404
    assert "Rae Nightingale" not in client.get("/awards/breakthrough-artist").get_data(as_text=True)
    assert "New <strong>voice</strong>." in client.get(
        f"/admin/nominees/{new_id}/preview"
    ).get_data(as_text=True)

    client.post(f"/admin/nominees/{new_id}/publish")
    assert client.get("/nominees/rae-nightingale").status_code == 200
    assert "Rae Nightingale" in client.get("/awards/breakthrough-artist").get_data(as_text=True)

    client.post(f"/admin/nominees/{new_id}/unpublish")
    assert client.get("/nominees/rae-nightingale").status_code == 404


def test_bad_input_gets_a_message_and_changes_nothing(client, demo, accounts_made):
    sign_in(client)
    target = nominee_id(demo)
    bad = nominee_form(slug="Bad Slug!", name="")
    response = client.post(f"/admin/nominees/{target}", data=bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Use lower-case letters" in html and "This is required." in html
    taken = client.post(f"/admin/nominees/{target}", data=nominee_form(slug="juno-park"))
    assert taken.status_code == 303  # a draft may say anything; publishing checks it
    refused = client.post(f"/admin/nominees/{target}/publish")
    assert refused.status_code == 409 and "is taken already" in refused.get_data(as_text=True)
    assert client.get("/nominees/nova-reyes").status_code == 200
    with psycopg.connect(demo) as conn:
        published = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'publish'")
        assert published.fetchone() == (0,)


def test_editors_manage_categories_with_windows_quota_and_results_mode(client, demo, accounts_made):
    sign_in(client)
    with psycopg.connect(demo) as conn:
        event = conn.execute("SELECT id FROM events").fetchone()[0]
    created = client.post(
        f"/admin/events/{event}/categories/new",
        data={
            "name": "Best Fan Cover",
            "slug": "best-fan-cover",
            "description": "Your versions.",
            "position": "9",
            "max_votes_per_voter": "3",
            "results_mode": "after_close",
            "window": ["new"],
            "window-new-opens_at": "2026-01-01T10:00",
            "window-new-closes_at": "2026-01-02T10:00",
        },
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    category = int(created.headers["Location"].split("/")[3].split("?")[0])
    assert client.get("/awards/best-fan-cover").status_code == 404
    client.post(f"/admin/categories/{category}/publish")
    page = client.get("/awards/best-fan-cover")
    assert page.status_code == 200 and "Best Fan Cover" in client.get("/").get_data(as_text=True)
    with psycopg.connect(demo) as conn:
        row = conn.execute(
            "SELECT max_votes_per_voter, results_mode, opens_at FROM categories c"
            " JOIN voting_windows w ON w.category_id = c.id WHERE c.id = %s",
            (category,),
        ).fetchone()
    assert row[:2] == (3, "after_close") and row[2].isoformat() == "2026-01-01T10:00:00+00:00"

    bad = client.post(
        f"/admin/categories/{category}",
        data={
            "name": "Best Fan Cover",
            "slug": "best-fan-cover",
            "window": ["new"],
            "window-new-opens_at": "2026-01-02T10:00",
            "window-new-closes_at": "2026-01-01T10:00",
        },
    )
    assert bad.status_code == 400
    assert "opening before its closing" in bad.get_data(as_text=True)


def test_editors_create_and_publish_an_event(client, accounts_made):
    sign_in(client)
    created = client.post(
        "/admin/events/new",
        data={
            "name": "Fan Awards 2027",
            "slug": "fan-awards-2027",
            "starts_at": "2027-11-28T20:00",
        },
    )
    assert created.status_code == 303
    target = created.headers["Location"].split("?")[0]
    assert "Fan Awards 2026" in client.get("/").get_data(as_text=True)
    preview = client.get(target + "/preview").get_data(as_text=True)
    assert "Fan Awards 2027" in preview
    client.post(target + "/publish")
    assert "Fan Awards 2027" in client.get("/").get_data(as_text=True)
    assert "Fan Awards 2027" in client.get("/admin/audit").get_data(as_text=True)


def test_the_scheduler_job_publishes_what_is_due_and_names_the_keys(client, demo, accounts_made):
    from datetime import UTC, datetime, timedelta

    from fanfare.content.publishing import due
    from fanfare.edge.transitions import keys_between

    sign_in(client)
    target = nominee_id(demo)
    at = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    client.post(f"/admin/nominees/{target}", data=nominee_form(bio="Scheduled *news*."))
    client.post(
        f"/admin/nominees/{target}/publish", data={"publish_at": at.strftime("%Y-%m-%dT%H:%M")}
    )
    created = client.post(
        "/admin/categories/1/nominees/new", data=nominee_form(name="Late Entry", slug="late-entry")
    )
    new_id = int(created.headers["Location"].split("/")[3].split("?")[0])
    client.post(
        f"/admin/nominees/{new_id}/publish", data={"publish_at": at.strftime("%Y-%m-%dT%H:%M")}
    )
    assert "Scheduled" in client.get(f"/admin/nominees/{target}").get_data(as_text=True)

    with psycopg.connect(demo, autocommit=True) as conn:
        before = due(conn, at - timedelta(seconds=2), at - timedelta(seconds=1))
        assert before == set()
        assert "Scheduled" not in client.get("/nominees/nova-reyes").get_data(as_text=True)
        keys = due(conn, at - timedelta(seconds=1), at)
        again = due(conn, at, at + timedelta(seconds=1))
        appeared = keys_between(conn, at - timedelta(seconds=1), at)
        (bio,) = conn.execute("SELECT bio FROM nominees WHERE id = %s", (target,)).fetchone()
    assert bio == "Scheduled *news*."
    # The draft published by the job; the new row appears by the clock (transitions purges it).
    assert keys == {f"nominee:{target}", "results:1"}
    assert appeared == {f"nominee:{new_id}", "results:1", "category:1", "missing"}
    assert again == set()


def test_every_editor_page_renders(app, demo, accounts_made):
    client = app.test_client()
    sign_in(client, ADMIN)
    with psycopg.connect(demo) as conn:
        event = conn.execute("SELECT id FROM events").fetchone()[0]
        category = conn.execute("SELECT id FROM categories ORDER BY id LIMIT 1").fetchone()[0]
    target = nominee_id(demo)
    pages = {
        "/admin/": "Fan Awards 2026",
        "/admin/audit": "sign in",
        "/admin/editors": EDITOR,
        "/admin/events/new": "New event",
        f"/admin/events/{event}": "Breakthrough Artist",
        f"/admin/events/{event}/preview": "Song of the Year",
        f"/admin/events/{event}/categories/new": "Voting windows",
        f"/admin/categories/{category}": "Nova Reyes",
        f"/admin/categories/{category}/preview": "Kai Okonkwo",
        f"/admin/categories/{category}/nominees/new": "Bio",
        f"/admin/nominees/{target}": "Upload photo",
    }
    for path, text in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert text in response.get_data(as_text=True), path
    assert client.get(f"/admin/events/{event}/nominees/new").status_code == 404
    assert client.get("/admin/widgets/1").status_code == 404
