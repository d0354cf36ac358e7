"""Languages: the URL prefix picks the locale, so each language is its own cached object.

English lives at `/`, every other language under its prefix (`/es/awards/…`). Nothing reads
Accept-Language or a cookie, so no response varies on them, and `/` never redirects. A POST to
/votes names its page's language in a hidden `lang` field (the voter cookie is scoped to
/votes, so the vote itself must stay there); receipts live at `/<prefix>/votes/<receipt>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from babel import Locale
from babel.dates import format_datetime, format_skeleton, get_timezone, get_timezone_name
from babel.numbers import format_decimal, format_percent
from flask import Flask, g, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from fanfare.edge import keys
from fanfare.http import bodies
from fanfare.infra.catalogs import TRANSLATIONS


@dataclass(frozen=True)
class Language:
    """One language of the fan pages."""

    code: str  # the gettext/Babel locale, and the catalog's directory name
    prefix: str  # the URL segment; "" for the default language
    tag: str  # BCP 47, for <html lang> and hreflang
    name: str  # its own name, for the switcher
    rtl: bool = False


LANGUAGES = (
    Language("en", "", "en", "English"),
    Language("es", "es", "es", "Español"),
    Language("pt_BR", "pt-br", "pt-BR", "Português (Brasil)"),
    Language("fr", "fr", "fr", "Français"),
    Language("de", "de", "de", "Deutsch"),
    Language("it", "it", "it", "Italiano"),
    Language("ko", "ko", "ko", "한국어"),
    Language("ja", "ja", "ja", "日本語"),
    Language("vi", "vi", "vi", "Tiếng Việt"),
    Language("id", "id", "id", "Bahasa Indonesia"),
    Language("ar", "ar", "ar", "العربية", rtl=True),
)
DEFAULT = LANGUAGES[0]
BY_PREFIX = {language.prefix: language for language in LANGUAGES if language.prefix}
BY_CODE = {language.code: language for language in LANGUAGES}
# The fan cookie is scoped to /account, so a fan's own pages keep their language inside it:
# /account/ko/…, not /ko/account/… (which the browser would send no cookie to).
ACCOUNT = "/account"


class LanguagePrefix(BaseConverter):
    """`<lang:lang>` matches only a known prefix, so an unknown one is a plain 404."""

    regex = "|".join(BY_PREFIX)


def language() -> Language:
    """The language of this request: its URL prefix, or the vote form's `lang` field."""
    found = g.get("language")
    if found is None:
        found = DEFAULT
        req = request._get_current_object()
        if req.method == "POST" and req.path == "/votes":
            try:
                found = BY_CODE.get(bodies.form().get("lang", ""), DEFAULT)
            except HTTPException:  # a body refused (413, 400): answer in the default language
                found = DEFAULT
        g.language = found
    return found


def content_language() -> str | None:
    """The language whose published translations this page shows; None: the rows' own texts."""
    current = language()
    return None if current is DEFAULT else current.code


def _from_url(endpoint: str | None, values: dict | None) -> None:
    """Take the `lang` prefix out of the view arguments and make it the request's language."""
    if values and "lang" in values:
        g.language = BY_PREFIX[values.pop("lang")]


def _in_account(path: str) -> bool:
    return path == ACCOUNT or path.startswith((f"{ACCOUNT}/", f"{ACCOUNT}?"))


def lang_path(path: str, lang: Language | None = None) -> str:
    """A site path in a language: "/awards/x" → "/es/awards/x", "/" → "/es/"; English: as is.

    A fan's own pages take the prefix after /account: "/account/rank" → "/account/es/rank".
    """
    prefix = (lang or language()).prefix
    if not prefix:
        return path
    if _in_account(path):
        return f"{ACCOUNT}/{prefix}{path[len(ACCOUNT) :]}"
    return f"/{prefix}{path}"


def unprefixed_path() -> str:
    """This request's path without its language prefix: what the switcher links to."""
    prefix = language().prefix
    path = request.path
    if not prefix:
        return path
    for base in (f"{ACCOUNT}/{prefix}", f"/{prefix}"):
        if path == base or path.startswith(f"{base}/"):
            rest = path[len(base) :]
            return (ACCOUNT + rest) if base.startswith(ACCOUNT) else (rest or "/")
    return path


def alternates() -> list[tuple[Language, str]]:
    """This page in every language, for the switcher and the hreflang links."""
    path = unprefixed_path()
    if request.method not in ("GET", "HEAD") and _in_account(path):
        path = ACCOUNT  # the answer to a form: its other languages are the account, not the POST
    return [(other, lang_path(path, other)) for other in LANGUAGES]


def page_keys(tags: list[str]) -> list[str]:
    """A page's surrogate keys in this request's language (the default language's are plain)."""
    current = language()
    return tags if current is DEFAULT else keys.in_language(tags, current.code)


def when(moment: datetime, time_zone: str | None = "UTC") -> str:
    """A moment in the event's time zone, with the zone named: 'Mon, Nov 23, 18:00 UTC'."""
    locale = get_locale() or Locale.parse(DEFAULT.code)
    name = time_zone or "UTC"
    zone = get_timezone(name)
    date = format_skeleton("MMMEd", moment, tzinfo=zone, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=zone, locale=locale)
    stamp = str(locale.datetime_formats["medium"]).format(time, date)
    if name == "UTC":  # "UTC" itself, in the locale's words ("UTC", "TU", "التوقيت العالمي")
        named = format_datetime(moment, "z", tzinfo=zone, locale=locale)
    else:
        named = get_timezone_name(zone, "long", locale=locale)
    return f"{stamp} {named}"


def number(value: int | float) -> str:
    """A count in the page's language: 12,345 / 12.345 / 12 345."""
    return format_decimal(value, locale=get_locale() or DEFAULT.code)


def percent(share: float) -> str:
    """A share given in percent (12.5) in the page's language, one decimal: 12.5% / 12,5 %."""
    locale = get_locale() or Locale.parse(DEFAULT.code)
    # The locale's own pattern (where the sign goes, which space), with one decimal added.
    pattern = re.sub(r"0(?=[^0]*$)", "0.0", locale.percent_formats[None].pattern.split(";")[0])
    return format_percent(share / 100, pattern, locale=locale)


def _template_globals() -> dict:
    return {"language": language(), "languages": LANGUAGES}


def init_app(app: Flask) -> None:
    """Pick the locale from the URL, and give templates the language and its helpers."""
    app.url_map.converters["lang"] = LanguagePrefix
    app.url_value_preprocessor(_from_url)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=lambda: language().code)
    app.context_processor(_template_globals)
    app.jinja_env.globals.update(lang_path=lang_path, alternates=alternates)
    app.jinja_env.filters.update(when=when, number=number, percent=percent)
