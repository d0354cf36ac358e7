"""The prediction game in every language: account, sign-in mail, predictions, leaderboard, card.

A fan's own pages keep the language after /account (/account/ko/…), where the fan cookie goes;
the cacheable pages take the usual prefix (/ko/leaderboard). Each page must come in its language's
words, with its `lang` and `dir`, link its other languages, and leave no English behind.
"""

from __future__ import annotations

import gettext
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

from fanfare.http.i18n import LANGUAGES, lang_path
from tests.fan_support import deliver, fan_app, make_round, smtp_fixture  # noqa: F401
from tests.test_i18n import catalog, html_lang

# The msgids the fan sees below (their translations come from the catalogs).
SIGN_IN_PITCH = (
    "Sign in to predict the winners and climb the leaderboard. No password: we email you a link."
)
SENT = (
    "If that address can receive mail, a sign-in link is on its way."
    " It works once, for %(num)s minute."
)
SAVED = "Saved. You can change it until the round locks."
BAD_CHOICE = "Choose one of the options (for a top 3, three different ones)."
NOT_RANKED = (
    "You are not ranked yet: make a prediction, and your rank appears once a round is scored."
)


@pytest.fixture
def app(demo, redis_url, app_settings, smtp):
    yield from fan_app(app_settings(demo, redis_url, SMTP_URL=smtp.url))


def words(code: str, msgid: str, n: int | None = None) -> str:
    """What a fan reads for a msgid in a language (English: the msgid), plural form for n."""
    if code == "en":
        plural = catalog("es").get(msgid).id if n is not None else msgid
        return msgid if isinstance(plural, str) or n == 1 else plural[1]
    entries = catalog(code)
    message = entries.get(msgid)
    assert message is not None and message.string, (code, msgid)
    if isinstance(message.string, str):
        return message.string
    return message.string[gettext.c2py(entries.plural_expr)(n if n is not None else 5)]


def page(client, path: str, language, *expected: str, status: int = 200) -> str:
    """GET a page of a language; check its status, words, lang, dir; return its HTML."""
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == status, (language.code, path, status)
    assert "Vary" not in response.headers
    assert html_lang(html) == (language.tag, "rtl" if language.rtl else "ltr"), path
    for msgid in expected:
        text = words(language.code, msgid)
        assert text in html, (language.code, path, text)
        if language.code != "en" and text != msgid:
            assert msgid not in html, (language.code, path, "English left:", msgid)
    return html


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_the_prediction_game_speaks_each_language(app, client, smtp, demo, language):
    code = language.code
    # Signed out: the sign-in form, its language in the /account URL, its switcher inside /account.
    html = page(
        client, lang_path("/account", language), language, SIGN_IN_PITCH, "Email me a sign-in link"
    )
    assert f'action="{lang_path("/account/sign-in", language)}"' in html
    for other in LANGUAGES:
        assert f'hreflang="{other.tag}" href="{lang_path("/account", other)}"' in html
    refused = client.post(lang_path("/account/sign-in", language), data={"email": "nope"})
    assert refused.status_code == 400
    assert words(code, "Enter an email address.") in refused.get_data(as_text=True)
    # Its switcher leads to the account in each language, not to a URL that only takes a POST.
    assert f'href="{lang_path("/account/sign-in", language)}"' not in refused.get_data(as_text=True)

    # The mail and its link come in the language of the page that asked for them.
    email = f"fan-{code}@example.org"
    sent = client.post(lang_path("/account/sign-in", language), data={"email": email})
    minutes = app.config["MAGIC_LINK_SECONDS"] // 60
    assert words(code, SENT, minutes) % {"num": minutes} in sent.get_data(as_text=True)
    assert deliver(client, smtp) == 1
    mail = smtp.messages[-1]
    assert mail["Subject"] == words(code, "Your fanfare sign-in link")
    assert words(code, "Sign in to fanfare with this link:") in mail.get_content()
    link = urlsplit(smtp.wait_link(email)).path
    assert link.startswith(lang_path("/account/link/", language))
    page(client, link, language, "Sign in to fanfare")
    signed_in = client.post(link)
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == lang_path("/account", language)
    page(
        client,
        lang_path("/account", language),
        language,
        "Your rank",
        "Save nickname",
        "Delete my account",
    )

    # Predictions: a cacheable page per language; the prediction answers in it.
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    html = page(
        client, lang_path("/predictions", language), language, "Predict the winners", "Your pick"
    )
    action = lang_path(f"/account/predictions/{rid}", language)
    assert f'action="{action}"' in html
    saved = client.post(action, data={"option": options[0]}, headers={"HX-Request": "true"})
    assert saved.status_code == 202
    assert words(code, SAVED) in saved.get_data(as_text=True)
    no_js = client.post(action, data={"option": options[1]})
    assert no_js.status_code == 303
    assert no_js.headers["Location"].startswith(lang_path("/account?saved=", language))
    bad = client.post(action, data={"option": "x"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert words(code, BAD_CHOICE) in bad.get_data(as_text=True)

    # The leaderboard, the fan's own rank and the share card.
    board = client.get(lang_path("/leaderboard", language))
    keys = board.headers["xkey"].split()
    assert "leaderboard" in keys and (code == "en") != any(k.endswith(f"@{code}") for k in keys)
    page(client, lang_path("/leaderboard", language), language, "Leaderboard", "See your rank")
    rank = client.get(lang_path("/account/rank", language)).get_data(as_text=True)
    assert words(code, NOT_RANKED) in rank
    with psycopg.connect(demo) as conn:
        public_id = conn.execute("SELECT public_id FROM fans").fetchone()[0]
    page(
        client,
        lang_path(f"/fans/{public_id}", language),
        language,
        "Not ranked yet",
        "The leaderboard",
        "Play too",
    )


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_the_overlay_and_embed_speak_each_language(client, demo, language):
    with psycopg.connect(demo) as conn:
        slug = conn.execute("SELECT slug FROM categories ORDER BY id LIMIT 1").fetchone()[0]
    for kind in ("overlay", "embed"):
        response = client.get(lang_path(f"/{kind}/awards/{slug}", language))
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        match = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)"', html)
        assert match and match.groups() == (language.tag, "rtl" if language.rtl else "ltr")
        if 'data-status="live"' in html and "hx-get" in html:
            assert f'hx-get="{lang_path(f"/overlay/awards/{slug}/board", language)}"' in html
