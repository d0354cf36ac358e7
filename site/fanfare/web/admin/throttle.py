"""The editor sign-in throttle: it counts failures only, and it cannot lock an editor out.

Three failure counters, each a `limits` string from the settings:
- per (account, client IP): one network guessing one account (ADMIN_LOGIN_LIMIT_ACCOUNT);
- per client IP, any account: one network spraying many accounts (ADMIN_LOGIN_LIMIT_IP);
- per account from everywhere (ADMIN_LOGIN_LIMIT_ACCOUNT_TOTAL): past it, a distributed guess is
  under way, and only networks that have not failed on that account may still try.

A counter keyed on the submitted email alone would let anyone lock an editor out by failing on
purpose; here an attacker only ever locks out their own addresses. A correct password from a
network that has not failed is never refused, and successful sign-ins never count.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from fanfare.http.ratelimit import client_ip, limiter

PREFIX = "admin-login"
WAIT_SECONDS = 60


def _limits(setting: str) -> list[RateLimitItem]:
    return parse_many(str(current_app.config[setting]))


def _counters(account: str) -> list[tuple[str, list[RateLimitItem], tuple[str, ...]]]:
    """(name, limits, identifiers) of the three failure counters for this request."""
    ip = client_ip()
    return [
        ("pair", _limits("ADMIN_LOGIN_LIMIT_ACCOUNT"), (PREFIX, "pair", account, ip)),
        ("ip", _limits("ADMIN_LOGIN_LIMIT_IP"), (PREFIX, "ip", ip)),
        ("account", _limits("ADMIN_LOGIN_LIMIT_ACCOUNT_TOTAL"), (PREFIX, "account", account)),
    ]


def _failed_here_before(account: str) -> bool:
    """Whether this client IP has a failure on this account within the longest pair window."""
    strategy = limiter.limiter
    pair = _counters(account)[0]
    return any(
        strategy.get_window_stats(item, *pair[2]).remaining < item.amount for item in pair[1]
    )


def check(account: str) -> None:
    """Before the password is verified: 429 if this network has failed too often."""
    strategy = limiter.limiter
    for name, items, identifiers in _counters(account):
        if all(strategy.test(item, *identifiers) for item in items):
            continue
        if name == "pair":
            message = _(
                "Too many sign-in attempts for this account from here."
                " Please wait a minute and try again."
            )
        elif name == "ip":
            message = _("Too many sign-in attempts from here. Please wait a minute and try again.")
        elif not _failed_here_before(account):
            continue  # the account is under attack, but not from here: let its editor in
        else:
            message = _(
                "Too many sign-in attempts for this account. Please wait a minute and try again."
            )
        raise TooManyRequests(description=message, retry_after=WAIT_SECONDS)


def failed(account: str) -> None:
    """After a wrong password (or an unknown account): count it on every counter."""
    strategy = limiter.limiter
    for _name, items, identifiers in _counters(account):
        for item in items:
            strategy.hit(item, *identifiers)
