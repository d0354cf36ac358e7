"""Eleven languages: complete catalogs, the language from the URL only, per-language edge keys."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from fanfare import settings
from fanfare.http.i18n import LANGUAGES, TRANSLATIONS, lang_path

TRANSLATED = [language for language in LANGUAGES if language.prefix]
ROOT = Path(settings.ROOT)


def catalog(code: str):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=code)


# The editor area: its strings are in every catalog, but only fans' strings must be translated
# (editors read /admin in English: it has no language prefix).
EDITOR_SOURCES = ("templates/admin/", "site/fanfare/web/admin/")


def used_msgids() -> dict[str, set[str]]:
    """Every msgid the templates and the code use, extracted as `make extract` does, with the
    files that use it."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={"_": None, "_l": None, "gettext": None, "ngettext": (1, 2)},
    )
    used: dict[str, set[str]] = {}
    for filename, _, msgid, _, _ in found:
        used.setdefault(msgid if isinstance(msgid, str) else msgid[0], set()).add(filename)
    return used


def fan_msgids() -> set[str]:
    """The msgids a fan can read: used anywhere outside the editor area."""
    return {
        msgid
        for msgid, files in used_msgids().items()
        if any(not file.startswith(EDITOR_SOURCES) for file in files)
    }


def t(code: str, msgid: str) -> str:
    """A msgid's translation in a language, as the .po holds it."""
    message = catalog(code).get(msgid)
    assert message is not None and message.string, (code, msgid)
    return message.string if isinstance(message.string, str) else message.string[-1]


@pytest.mark.parametrize("language", TRANSLATED, ids=lambda language: language.code)
def test_catalog_translates_every_msgid_the_site_uses(language):
    entries = catalog(language.code)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in entries
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(fan_msgids() - translated)
    assert not missing, f"{language.code} lacks: {missing}"
    # The editor's strings are there too, ready for a translator (empty: English is shown).
    absent = sorted(
        set(used_msgids()) - {m.id if isinstance(m.id, str) else m.id[0] for m in entries}
    )
    assert not absent, f"{language.code} lacks, even untranslated (make update): {absent}"
    # Placeholders survive translation (babel's python-format checks).
    assert not list(entries.check()), list(entries.check())
    assert (TRANSLATIONS / language.code / "LC_MESSAGES" / "messages.mo").exists(), "make compile"


def category_slug(database_url: str) -> tuple[str, str]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT c.slug, n.slug FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' LIMIT 1"
        ).fetchone()


def html_lang(html: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)">', html)
    assert match, html[:200]
    return match.group(1), match.group(2)


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_every_fan_page_renders_in_its_language(client, demo, language):
    category, nominee = category_slug(demo)
    pages = {
        "/": "Awards",
        f"/awards/{category}": "Cast your vote",
        f"/nominees/{nominee}": "All awards",
        f"/awards/{category}/results": "Results so far",
        f"/fragments/awards/{category}/results": "Results so far",
        "/history": "Past winners",
    }
    for path, msgid in pages.items():
        response = client.get(lang_path(path, language))
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        expected = msgid if language.code == "en" else t(language.code, msgid)
        assert expected in html, (language.code, path, expected)
        assert "Vary" not in response.headers
        if not path.startswith("/fragments"):
            assert html_lang(html) == (language.tag, "rtl" if language.rtl else "ltr")
            # Every other language's copy is linked, plainly, with x-default at English.
            for other in LANGUAGES:
                assert f'hreflang="{other.tag}" href="{lang_path(path, other)}"' in html
            assert f'hreflang="x-default" href="{path}"' in html


def test_spot_translations_read_as_written(client, demo):
    category, _ = category_slug(demo)
    assert "투표하기" in client.get(f"/ko/awards/{category}").get_data(as_text=True)
    arabic = client.get(f"/ar/awards/{category}").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "أدلِ بصوتك" in arabic
    assert "Emite tu voto" in client.get(f"/es/awards/{category}").get_data(as_text=True)


def test_the_language_comes_from_the_url_only(client, demo):
    home = client.get("/", headers={"Accept-Language": "ko,es;q=0.8", "Cookie": "lang=ar"})
    assert home.status_code == 200  # never a redirect by Accept-Language
    assert html_lang(home.get_data(as_text=True)) == ("en", "ltr")
    assert "Vary" not in home.headers
    assert client.get("/xx/").status_code == 404
    assert client.get("/en/").status_code == 404  # English has one URL: /
    assert client.get("/pt-br/").status_code == 200


def test_each_language_carries_the_content_keys_and_its_own(client, demo):
    category, _ = category_slug(demo)
    english = client.get(f"/awards/{category}").headers["xkey"].split()
    korean = client.get(f"/ko/awards/{category}").headers["xkey"].split()
    assert not any("@" in key for key in english)
    assert korean == [*english, *(f"{key}@ko" for key in english)]


def test_numbers_and_times_follow_the_locale(client, demo):
    with psycopg.connect(demo) as conn:
        conn.execute("UPDATE events SET time_zone = 'Asia/Seoul'")
    category, _ = category_slug(demo)
    korean = client.get(f"/ko/awards/{category}").get_data(as_text=True)
    german = client.get(f"/de/awards/{category}").get_data(as_text=True)
    assert "한국 표준시" in korean or "한국 시간" in korean  # the zone is named, in Korean
    assert "Koreanische" in german
    assert re.search(r"\d+,\d\s%", german)  # "0,0 %", with a no-break space


def test_a_vote_answers_in_its_page_language(app_settings, demo, redis_url):
    from fanfare.app import create_ingest_app
    from fanfare.infra import db

    ingest = create_ingest_app(app_settings(demo, redis_url))
    try:
        client = ingest.test_client()
        with psycopg.connect(demo) as conn:
            category, nominee = conn.execute(
                "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
                " WHERE c.slug = 'breakthrough-artist' LIMIT 1"
            ).fetchone()
        form = {"category": category, "nominee": nominee, "lang": "ja"}
        answer = client.post("/votes", data=form, headers={"HX-Request": "true"})
        assert answer.status_code == 202
        assert "ありがとうございます" in answer.get_data(as_text=True)
        plain = ingest.test_client().post("/votes", data={**form, "lang": "ko"})  # a new voter
        assert plain.status_code == 303 and plain.headers["Location"].startswith("/ko/votes/")
        receipt = client.get(plain.headers["Location"])
        assert receipt.status_code == 200 and "대기 중" in receipt.get_data(as_text=True)
        assert html_lang(receipt.get_data(as_text=True)) == ("ko", "ltr")
        arabic = client.get(plain.headers["Location"].replace("/ko/", "/ar/"))
        assert html_lang(arabic.get_data(as_text=True)) == ("ar", "rtl")
        assert client.get(plain.headers["Location"].replace("/ko/", "/xx/")).status_code == 404
    finally:
        db.close(ingest)


def test_through_the_edge_a_language_is_its_own_cached_object_and_shares_the_tally(
    make_stack, demo, redis_url
):
    from edge_http import post_vote, request, wait_until

    stack = make_stack(demo, redis_url, "web", "ingest", "worker", "edge")
    category, _ = category_slug(demo)
    with psycopg.connect(demo) as conn:
        category_id, nominee_id = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = %s ORDER BY n.id LIMIT 1",
            (category,),
        ).fetchone()

    url = stack.url() + f"/ko/awards/{category}"
    first = request(url, headers={"Accept-Language": "ko"})
    second = request(url, headers={"Accept-Language": "es", "Cookie": "lang=ar"})
    assert first.status == second.status == 200
    assert second.cache == "HIT"  # neither the header nor a cookie made it another object
    assert "accept-language" not in second.headers.get("vary", "").lower()
    assert "cookie" not in second.headers.get("vary", "").lower()
    assert "투표하기" in second.body

    form = {"category": category_id, "nominee": nominee_id}
    hx = {"HX-Request": "true"}
    assert post_vote(stack.url(), {**form, "lang": "ko"}, hx)[0] == 202
    assert post_vote(stack.url(), form, hx)[0] == 202  # another voter, from /

    def tally() -> int:
        with psycopg.connect(demo) as conn:
            row = conn.execute(
                "SELECT votes FROM tallies WHERE category_id = %s AND nominee_id = %s",
                (category_id, nominee_id),
            ).fetchone()
        return row[0] if row else 0

    wait_until(lambda: tally() >= 2, timeout=60)
    assert tally() == 2  # one tally, whichever language the vote came from
