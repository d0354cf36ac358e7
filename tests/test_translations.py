"""Editors' translations of content: drafts until published, per-field fallback, per-language
purges through a real edge, and bad input refused with nothing written."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from edge_http import fan_get

from fanfare.app import create_web_app
from fanfare.content import translations
from fanfare.infra import db
from fanfare.web.admin import accounts

PASSWORD = "correct horse battery staple"
EDITOR = "ed@example.org"
KOREAN_NAME = "노바 레예스"
KOREAN_BIO = "노바 레예스는 빵집에서 일하며 **빌린 노트북**으로 첫 EP를 녹음했다."


@pytest.fixture
def app(demo, redis_url, tmp_path, app_settings):
    app = create_web_app(app_settings(demo, redis_url, MEDIA_ROOT=str(tmp_path / "media")))
    yield app
    db.close(app)


@pytest.fixture
def editor(app, demo):
    """A signed-in editor's test client."""
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, EDITOR, PASSWORD)
    client = app.test_client()
    answer = client.post("/admin/login", data={"email": EDITOR, "password": PASSWORD})
    assert answer.status_code == 303
    return client


def row_id(database_url: str, table: str, slug: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT id FROM {table} WHERE slug = %s", (slug,)).fetchone()[0]


def stored(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT kind, target_id, language, texts, draft FROM translations ORDER BY 1, 2, 3"
        ).fetchall()


def page(client, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return answer.get_data(as_text=True)


def test_a_translation_is_a_draft_until_published_and_shows_only_in_its_language(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    fans = editor.application.test_client()
    form = {"name": KOREAN_NAME, "tagline": "", "bio": KOREAN_BIO}

    listed = page(editor, f"/admin/nominees/{nominee}")
    for language in ("한국어", "Español", "Português (Brasil)", "العربية"):
        assert f">{language}</a>" in listed  # the edit page links every language's translation
    saved = editor.post(f"/admin/nominees/{nominee}/translations/ko", data=form)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("done=saved")
    assert KOREAN_NAME in page(editor, f"/admin/nominees/{nominee}/translations/ko")
    assert KOREAN_NAME not in page(fans, "/ko/nominees/nova-reyes")  # a draft: fans see nothing
    preview = page(editor, f"/admin/nominees/{nominee}/translations/ko/preview")
    assert KOREAN_NAME in preview and '<html lang="ko" dir="ltr">' in preview
    assert "전체 부문" in preview  # the fan page's own strings, in Korean

    assert "Unpublished changes" in page(editor, f"/admin/nominees/{nominee}")
    refused = editor.post(
        f"/admin/nominees/{nominee}/translations/ko/publish", data={"publish_at": "soon"}
    )
    assert refused.status_code == 400 and KOREAN_NAME in refused.get_data(as_text=True)
    published = editor.post(f"/admin/nominees/{nominee}/translations/ko/publish")
    assert published.status_code == 303
    korean = page(fans, "/ko/nominees/nova-reyes")
    assert KOREAN_NAME in korean and "<strong>빌린 노트북</strong>" in korean
    assert "Bedroom pop from Valparaíso" in korean  # the empty tagline falls back to English
    assert "borrowed laptop" not in korean
    assert KOREAN_NAME in page(fans, "/ko/awards/breakthrough-artist")  # list and vote form
    for other in ("/nominees/nova-reyes", "/es/nominees/nova-reyes", "/ja/nominees/nova-reyes"):
        html = page(fans, other)
        assert KOREAN_NAME not in html and "borrowed laptop" in html, other

    with psycopg.connect(demo) as conn:
        actions = conn.execute(
            "SELECT editor_email, action, detail FROM audit_log WHERE kind = 'nominee'"
            " AND target_id = %s ORDER BY id",
            (nominee,),
        ).fetchall()
    assert actions[-2:] == [
        (EDITOR, "save translation draft", {"language": "ko", "fields": ["bio", "name"]}),
        (EDITOR, "publish translation", {"language": "ko", "fields": ["bio", "name"]}),
    ]


def test_category_and_event_texts_fall_back_field_by_field(editor, demo):
    category = row_id(demo, "categories", "breakthrough-artist")
    with psycopg.connect(demo) as conn:
        (event,) = conn.execute(
            "SELECT event_id FROM categories WHERE id = %s", (category,)
        ).fetchone()
    description = "Son primer año hizo que todo el mundo prestara atención."
    editor.post(f"/admin/categories/{category}/translations/es", data={"description": description})
    editor.post(f"/admin/categories/{category}/translations/es/publish")
    editor.post(f"/admin/events/{event}/translations/es", data={"name": "Premios fanfare"})
    editor.post(f"/admin/events/{event}/translations/es/publish")
    fans = editor.application.test_client()

    spanish = page(fans, "/es/awards/breakthrough-artist")
    assert description in spanish and "Breakthrough Artist" in spanish  # name: not translated
    home = page(fans, "/es/")
    assert "Premios fanfare" in home and description in home
    assert "Your votes decide." in home  # the event's tagline falls back
    assert "Premios fanfare" not in page(fans, "/") and description not in page(fans, "/pt-br/")
    with psycopg.connect(demo) as conn:
        (event_slug,) = conn.execute("SELECT slug FROM events WHERE id = %s", (event,)).fetchone()
    assert "Premios fanfare" in page(fans, f"/es/leaderboard/{event_slug}")
    assert "Premios fanfare" in page(fans, "/es/predictions")
    assert "Premios fanfare" not in page(fans, f"/leaderboard/{event_slug}")
    preview = page(editor, f"/admin/events/{event}/translations/es/preview")
    assert "Premios fanfare" in preview and description in preview
    assert description in page(editor, f"/admin/categories/{category}/translations/es/preview")


def test_the_history_and_results_show_translated_names(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    editor.post(f"/admin/nominees/{nominee}/translations/ar", data={"name": "نوفا رييس"})
    editor.post(f"/admin/nominees/{nominee}/translations/ar/publish")
    fans = editor.application.test_client()
    assert "نوفا رييس" in page(fans, "/ar/fragments/awards/breakthrough-artist/results")
    assert "نوفا رييس" not in page(fans, "/fragments/awards/breakthrough-artist/results")


def test_a_translated_bio_is_sanitised_like_the_english_one(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    bio = "Hola <script>alert(1)</script> [clic](javascript:alert(2)) <img src=x onerror=alert(3)>"
    editor.post(f"/admin/nominees/{nominee}/translations/es", data={"bio": bio})
    editor.post(f"/admin/nominees/{nominee}/translations/es/publish")
    html = page(editor.application.test_client(), "/es/nominees/nova-reyes")
    assert "Hola" in html
    bio_html = html.split('<div class="bio">', 1)[1].split("</div>", 1)[0]
    assert "Hola" in bio_html and "&lt;script&gt;" in bio_html  # shown as text, never run
    assert (
        "<script" not in bio_html and "<img" not in bio_html and 'href="javascript' not in bio_html
    )


def test_withdrawing_a_translation_brings_back_the_default_texts(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    editor.post(f"/admin/nominees/{nominee}/translations/vi", data={"name": "Nova Reyes (vi)"})
    editor.post(f"/admin/nominees/{nominee}/translations/vi/publish")
    fans = editor.application.test_client()
    assert "Nova Reyes (vi)" in page(fans, "/vi/nominees/nova-reyes")
    assert editor.post(f"/admin/nominees/{nominee}/translations/vi/unpublish").status_code == 303
    assert "Nova Reyes (vi)" not in page(fans, "/vi/nominees/nova-reyes")
    # Nothing left to withdraw or to publish: a clear 409, nothing changed.
    assert editor.post(f"/admin/nominees/{nominee}/translations/vi/unpublish").status_code == 409
    assert editor.post(f"/admin/nominees/{nominee}/translations/de/publish").status_code == 409


def test_a_scheduled_translation_is_published_by_the_scheduler_job(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    category = row_id(demo, "categories", "breakthrough-artist")
    editor.post(f"/admin/nominees/{nominee}/translations/ja", data={"name": "ノヴァ・レイエス"})
    at = datetime.now(UTC) + timedelta(hours=1)
    scheduled = editor.post(
        f"/admin/nominees/{nominee}/translations/ja/publish",
        data={"publish_at": at.strftime("%Y-%m-%dT%H:%M")},
    )
    assert scheduled.status_code == 303 and "done=scheduled" in scheduled.headers["Location"]
    fans = editor.application.test_client()
    assert "ノヴァ・レイエス" not in page(fans, "/ja/nominees/nova-reyes")

    with psycopg.connect(demo) as conn:
        assert translations.due(conn, at - timedelta(hours=2), at - timedelta(minutes=5)) == set()
        changed = translations.due(conn, at - timedelta(minutes=5), at + timedelta(minutes=1))
        conn.commit()
        last = conn.execute(
            "SELECT editor_email, action FROM audit_log ORDER BY id DESC"
        ).fetchone()
    assert changed == {f"nominee:{nominee}@ja", f"results:{category}@ja", "history@ja"}
    assert last == ("scheduler", "publish translation")
    assert "ノヴァ・レイエス" in page(fans, "/ja/nominees/nova-reyes")


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/admin/nominees/{n}/translations/xx", {"name": "?"}, 404),  # not a language
        ("/admin/nominees/{n}/translations/en", {"name": "?"}, 404),  # the row itself is English
        ("/admin/nominees/{n}/translations/pt_BR", {"name": "?"}, 404),  # the prefix is pt-br
        ("/admin/people/{n}/translations/ko", {"name": "?"}, 404),
        ("/admin/nominees/999999/translations/ko", {"name": "?"}, 404),
        ("/admin/nominees/{n}/translations/ko", {"name": "가" * 201}, 400),
        ("/admin/nominees/{n}/translations/ko", {"tagline": "x" * 201}, 400),
        ("/admin/nominees/{n}/translations/ko", {"bio": "b" * 20_001}, 400),
        ("/admin/nominees/{n}/translations/ko", {"name": "Nova\x00"}, 400),
        ("/admin/nominees/{n}/translations/ko", {"name": "Nova\x1b[2J"}, 400),
        ("/admin/nominees/{n}/translations/ko", {"name": "\u202eavoN"}, 400),
        ("/admin/categories/{c}/translations/ko", {"description": "d" * 1001}, 400),
        ("/admin/nominees/{n}/translations/ko/publish", {"publish_at": "tomorrow"}, 400),
        ("/admin/nominees/{n}/translations/ko/publish", {}, 409),  # no draft to publish
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(editor, demo, path, form, status):
    ids = {
        "n": row_id(demo, "nominees", "nova-reyes"),
        "c": row_id(demo, "categories", "song-of-the-year"),
    }
    with psycopg.connect(demo) as conn:
        audit_before = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    answer = editor.post(path.format(**ids), data=form)
    assert answer.status_code == status
    assert stored(demo) == []
    with psycopg.connect(demo) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == audit_before


def test_a_cross_origin_translation_post_is_refused(editor, demo):
    nominee = row_id(demo, "nominees", "nova-reyes")
    for path in ("", "/publish"):
        answer = editor.post(
            f"/admin/nominees/{nominee}/translations/ko{path}",
            data={"name": KOREAN_NAME},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        )
        assert answer.status_code == 403
    assert stored(demo) == []


# ---- through a real edge ----------------------------------------------------------------------


def test_publishing_a_translation_purges_exactly_its_language_at_the_edge(
    make_stack, demo, redis_url
):
    nominee = row_id(demo, "nominees", "nova-reyes")
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, EDITOR, PASSWORD)
    stack = make_stack(demo, redis_url, "web", "edge")
    edge = stack.url()
    korean = ["/ko/nominees/nova-reyes", "/ko/awards/breakthrough-artist"]
    # The same pages in other languages, and a Korean page that does not show the nominee.
    untouched = [
        "/nominees/nova-reyes",
        "/es/nominees/nova-reyes",
        "/ar/awards/breakthrough-artist",
        "/awards/breakthrough-artist",
        "/ko/awards/song-of-the-year",
        "/ko/",
    ]
    for path in korean + untouched:
        fan_get(edge + path)
        assert fan_get(edge + path)[:2] == (200, "HIT"), path

    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def post(path: str, **form: str) -> str:
        data = urllib.parse.urlencode(form).encode()
        with browser.open(edge + path, data=data, timeout=10) as answer:
            assert answer.status == 200
            return answer.url

    assert post("/admin/login", email=EDITOR, password=PASSWORD).endswith("/admin/")
    post(f"/admin/nominees/{nominee}/translations/ko", name=KOREAN_NAME, bio=KOREAN_BIO)
    for path in korean:
        _, cache, body = fan_get(edge + path)
        assert cache == "HIT" and KOREAN_NAME not in body, path  # a draft purges nothing
    post(f"/admin/nominees/{nominee}/translations/ko/publish")

    for path in korean:
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status, cache, body = fan_get(edge + path)
            seen.append(cache)
            if KOREAN_NAME in body:
                break
            time.sleep(0.02)
        assert KOREAN_NAME in body, f"{path} after 5 s: {seen}"
        # The edge refetched it: a soft-purged object is served stale once, or fetched afresh.
        assert "HIT-STALE" in seen or "MISS" in seen, seen
    for path in untouched:
        status, cache, body = fan_get(edge + path)
        # Not purged: a soft-purged object would answer HIT-STALE (or MISS) first.
        assert (status, cache) == (200, "HIT"), f"{path} was purged too"
        assert KOREAN_NAME not in body


# ---- the vote path's answers ---------------------------------------------------------------


def test_vote_answers_name_the_category_and_nominee_in_the_page_language(
    editor, demo, redis_url, app_settings
):
    from fanfare.app import create_ingest_app
    from fanfare.votes.ballot import load_ballot

    closed = row_id(demo, "categories", "best-live-performance")
    nominee = row_id(demo, "nominees", "nova-reyes")
    open_category = row_id(demo, "categories", "breakthrough-artist")
    editor.post(f"/admin/categories/{closed}/translations/ko", data={"name": "최고의 라이브 무대"})
    editor.post(f"/admin/categories/{closed}/translations/ko/publish")
    editor.post(f"/admin/nominees/{nominee}/translations/ko", data={"name": KOREAN_NAME})
    editor.post(f"/admin/nominees/{nominee}/translations/ko/publish")

    with psycopg.connect(demo) as conn:
        ballot = load_ballot(conn)
    assert ballot.rules_in(open_category, "ko").nominees[nominee] == KOREAN_NAME
    assert ballot.rules_in(open_category, "es").nominees[nominee] == "Nova Reyes"
    assert ballot.rules_in(open_category, None) is ballot.categories[open_category]

    ingest = create_ingest_app(app_settings(demo, redis_url))
    try:
        client = ingest.test_client()
        with psycopg.connect(demo) as conn:
            (other,) = conn.execute(
                "SELECT id FROM nominees WHERE category_id = %s LIMIT 1", (closed,)
            ).fetchone()
        form = {"category": closed, "nominee": other}
        korean = client.post("/votes", data={**form, "lang": "ko"}, headers={"HX-Request": "true"})
        english = client.post("/votes", data=form, headers={"HX-Request": "true"})
        assert korean.status_code == english.status_code == 409
        assert "최고의 라이브 무대" in korean.get_data(as_text=True)
        assert "Best Live Performance" in english.get_data(as_text=True)
    finally:
        db.close(ingest)
