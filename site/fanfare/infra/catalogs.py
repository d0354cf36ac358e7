"""The gettext catalogs on disk, Flask-free: for text made outside a request (the sign-in mail).

The web app reads the same directory through Flask-Babel (http/i18n.py); a worker that sends a
fan's mail reads it here, in the language the fan's page was in.
"""

from __future__ import annotations

from functools import lru_cache

from babel.support import NullTranslations, Translations

from fanfare import settings

TRANSLATIONS = settings.ROOT / "site" / "fanfare" / "translations"


@lru_cache(maxsize=32)
def translations(code: str) -> NullTranslations:
    """The compiled catalog of a language; English (the msgids themselves) when there is none."""
    return Translations.load(str(TRANSLATIONS), [code])
