"""Fan accounts in PostgreSQL, known only by a keyed hash of the address. Flask-free."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import psycopg

from fanfare.infra import sql

Q = sql.queries("fans")

NICKNAME_MIN, NICKNAME_MAX = 2, 24


def normalise_email(raw: str) -> str | None:
    """The address lower-cased and trimmed, or None when it cannot be an address."""
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > 254
        or any(c.isspace() for c in email)
    ):
        return None
    return email


def email_hash(secret: str, email: str) -> str:
    """A keyed hash of the address: stable for sign-in, useless to anyone without the secret."""
    return hmac.new(secret.encode(), b"fan-email:" + email.encode(), hashlib.sha256).hexdigest()


def clean_nickname(raw: str) -> str | None:
    """A nickname of printable characters within the length limits, or None."""
    nickname = " ".join(raw.split())
    if not NICKNAME_MIN <= len(nickname) <= NICKNAME_MAX or not nickname.isprintable():
        return None
    return nickname


def sign_in(conn: psycopg.Connection, hashed_email: str) -> dict:
    """The account for this address, created on first sign-in (so asking reveals nothing)."""
    row = sql.one(
        conn, Q.sign_in, (secrets.token_urlsafe(9), hashed_email, "fan-" + secrets.token_hex(3))
    )
    assert row is not None
    return row


def get(conn: psycopg.Connection, fan_id: int) -> dict | None:
    """One account by id, or None once it is deleted."""
    return sql.one(conn, Q.get, (fan_id,))


def rename(conn: psycopg.Connection, fan_id: int, nickname: str) -> None:
    """Change the name the leaderboard shows."""
    conn.execute(Q.rename, (nickname, fan_id))


def erase(conn: psycopg.Connection, fan_id: int) -> bool:
    """Delete the account; its predictions stay, anonymised (fan_id SET NULL by the key).

    Votes were never linked to an account (a voter is a cookie id), so they stay counted with
    nothing that leads back to the person.
    """
    return conn.execute(Q.erase, (fan_id,)).rowcount == 1
