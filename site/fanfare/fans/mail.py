"""Sign-in mail through a real SMTP client (smtplib) to FANFARE_SMTP_URL. Flask-free."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from fanfare.infra.catalogs import translations

TIMEOUT_SECONDS = 10


class MailError(RuntimeError):
    """The mail server could not take the message."""


def sign_in_message(
    sender: str, to: str, link: str, minutes: int, lang: str = "en"
) -> EmailMessage:
    """The plain-text mail that carries a sign-in link, in the language of the page it came from."""
    catalog = translations(lang)
    _, ngettext = catalog.gettext, catalog.ngettext
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = _("Your fanfare sign-in link")
    works = ngettext(
        "It works once, for %(num)s minute. If you did not ask for it, ignore this mail.",
        "It works once, for %(num)s minutes. If you did not ask for it, ignore this mail.",
        minutes,
    ) % {"num": minutes}
    intro = _("Sign in to fanfare with this link:")
    message.set_content(f"{intro}\n\n{link}\n\n{works}\n")
    return message


@contextmanager
def connection(url: str) -> Iterator[smtplib.SMTP]:
    """One SMTP session for many messages; smtps:// is TLS from the start, credentials from
    the URL. Every failure, connecting or sending, is a MailError."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(f"unsupported SMTP_URL scheme {parts.scheme!r}")
    client_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    try:
        with client_class(parts.hostname, port, timeout=TIMEOUT_SECONDS) as client:
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            yield client
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(str(exc)) from exc
