"""/account: magic-link sign-in, nickname, sign-out, erasure, and the private rank fragment.

Everything here is private (no-store) and is the only place the fan cookie is sent to.
"""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
)
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from fanfare.content import after_publish, catalog
from fanfare.edge import keys
from fanfare.edge.purge import EXTENSION as PURGER
from fanfare.fans import accounts, magic_links, outbox, sessions
from fanfare.http import i18n
from fanfare.http.ratelimit import client_ip, limiter
from fanfare.infra import db, redis_client
from fanfare.predictions import leaderboard, queue
from fanfare.web.fans import session
from fanfare.web.fans.tiers import tier_of

bp = Blueprint("account", __name__, url_prefix="/account")
DEAD_LINK = _l("This sign-in link has expired or was already used. Ask for a new one below.")
TOO_MANY_FROM_HERE = _l("Too many sign-in requests from here. Please wait a minute and try again.")
TOO_MANY_FOR_ADDRESS = _l(
    "Too many sign-in links for this address. Please check your inbox or wait."
)


def _email_key() -> str:
    """Throttle by the address asked for, hashed, whether an account exists or not."""
    email = request.form.get("email", "").strip().lower()
    return "fan-sign-in-email:" + hashlib.sha256(email.encode()).hexdigest()


def _ip_key() -> str:
    return "fan-sign-in-ip:" + client_ip()


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _lifetime() -> int:
    return int(current_app.config["MAGIC_LINK_SECONDS"])


@bp.before_request
def signed_in_fan() -> None:
    """Every /account request knows its fan (or None) before the view runs."""
    session.load_fan_id()


def _account_page(status: int = 200, **context) -> Response:
    fan, rows, event = None, [], catalog.current_event(i18n.content_language())
    if g.fan_id is not None:
        with db.connection() as conn:
            fan = accounts.get(conn, g.fan_id)
            rows = leaderboard.around(conn, g.fan_id)
    body = render_template(
        "fans/account.html", fan=fan, around=rows, tier_of=tier_of, event=event, **context
    )
    return make_response(body, status)


@bp.get("")
def home() -> Response:
    """Signed in: the account and your rank. Signed out: the sign-in form."""
    return _account_page()


@bp.post("/sign-in")
@limiter.limit(
    lambda: current_app.config["SIGN_IN_LIMIT_PER_IP"],
    key_func=_ip_key,
    error_message=lambda: str(TOO_MANY_FROM_HERE),
)
@limiter.limit(
    lambda: current_app.config["SIGN_IN_LIMIT_PER_EMAIL"],
    key_func=_email_key,
    error_message=lambda: str(TOO_MANY_FOR_ADDRESS),
)
def sign_in() -> Response:
    """Mail a single-use link; the answer is the same whether or not an account exists."""
    email = accounts.normalise_email(request.form.get("email", ""))
    if email is None:
        error = _("Enter an email address.")
        return _account_page(400, error=error, email=request.form.get("email"))
    token = magic_links.issue(redis_client.client(), _secret(), email, lifetime=_lifetime())
    base = str(current_app.config["SITE_URL"] or request.host_url).rstrip("/")
    # Queued, not sent here: the scheduler's mail job sends it within a tick or so.
    minutes = _lifetime() // 60
    link = base + i18n.lang_path(f"/account/link/{token}")
    outbox.enqueue(redis_client.client(), email, link, minutes, i18n.language().code)
    sent = ngettext(
        "If that address can receive mail, a sign-in link is on its way."
        " It works once, for %(num)s minute.",
        "If that address can receive mail, a sign-in link is on its way."
        " It works once, for %(num)s minutes.",
        minutes,
    )
    return _account_page(200, sent=sent)


@bp.get("/link/<token>")
def confirm_link(token: str) -> Response:
    """A button to finish signing in: mail scanners that open links must not use them up."""
    if not magic_links.usable(redis_client.client(), _secret(), token, lifetime=_lifetime()):
        return _account_page(410, error=DEAD_LINK)
    return make_response(render_template("fans/confirm_link.html", token=token))


@bp.post("/link/<token>")
def use_link(token: str) -> Response:
    """Consume the link (exactly once), find or create the account, start a fresh session."""
    r = redis_client.client()
    email = magic_links.consume(r, _secret(), token, lifetime=_lifetime())
    if email is None:
        return _account_page(410, error=DEAD_LINK)
    with db.connection() as conn:
        fan = accounts.sign_in(conn, accounts.email_hash(_secret(), email))
    sessions.end(r, session.token())  # rotation: never upgrade a session the browser had
    response = redirect(i18n.lang_path("/account"), 303)
    lifetime = int(current_app.config["FAN_SESSION_SECONDS"])
    session.set_cookie(response, sessions.start(r, fan["id"], lifetime=lifetime))
    return response


def _require_fan() -> int:
    if g.fan_id is None:
        abort(401, description=_("Please sign in first."))
    return g.fan_id


def _announce(changed: set[str]) -> None:
    after_publish.announce(
        changed, purger=current_app.extensions[PURGER], redis_client=redis_client.client()
    )


@bp.post("/nickname")
def nickname() -> Response:
    """Change the name the leaderboard shows."""
    fan_id = _require_fan()
    cleaned = accounts.clean_nickname(request.form.get("nickname", ""))
    if cleaned is None:
        return _account_page(400, error=_("A nickname is 2 to 24 characters."))
    with db.connection() as conn:
        accounts.rename(conn, fan_id, cleaned)
        fan = accounts.get(conn, fan_id)
    _announce(keys.fan_changed(fan["public_id"]))
    return redirect(i18n.lang_path("/account"), 303)


@bp.post("/sign-out")
def sign_out() -> Response:
    """End the session on the server and in the browser."""
    sessions.end(redis_client.client(), session.token())
    response = redirect(i18n.lang_path("/account"), 303)
    session.clear_cookie(response)
    return response


@bp.post("/delete")
def delete() -> Response:
    """Erase the account: predictions anonymised, every session ended."""
    fan_id = _require_fan()
    if request.form.get("confirm") != "yes":
        return _account_page(400, error=_("Tick the box to confirm you want your account deleted."))
    with db.connection() as conn:
        fan = accounts.get(conn, fan_id)
        accounts.erase(conn, fan_id)
    r = redis_client.client()
    sessions.end_all(r, fan_id)
    r.set(queue.LEADERBOARD_STALE, 1)
    if fan is not None:
        _announce(keys.fan_changed(fan["public_id"]))
    response = make_response(render_template("fans/deleted.html"))
    session.clear_cookie(response)
    return response


@bp.get("/rank")
def rank() -> Response:
    """The private fragment: your rank and the fans around you (loaded by the cached board)."""
    rows: list[dict] = []
    if g.fan_id is not None:
        with db.connection() as conn:
            rows = leaderboard.around(conn, g.fan_id)
    body = render_template(
        "fans/_rank.html", signed_in=g.fan_id is not None, around=rows, tier_of=tier_of
    )
    return make_response(body)
