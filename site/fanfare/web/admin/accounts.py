"""Editor accounts: argon2id password hashes, sign-in checks and `fanfare create-editor`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from typing import TypeVar

import click
import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app
from flask.cli import with_appcontext
from psycopg.rows import dict_row

from fanfare.infra import connect, sql

ROLES = ("editor", "admin")
MIN_PASSWORD_LENGTH = 12
# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
Q = sql.queries("accounts")


T = TypeVar("T")


def off_the_hub(function: Callable[..., T], *args: object) -> T:
    """Run CPU-bound work (an argon2 hash, ~20 ms) in gevent's threadpool when under gevent.

    A gevent worker runs every request on one OS thread, so a hash computed in place stalls
    all of its other requests; argon2 releases the GIL, so a pool thread really runs beside.
    """
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            import gevent

            return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)


def _verify(password_hash: str, password: str) -> bool:
    """argon2's verify (it raises on a mismatch), off the hub."""
    return off_the_hub(HASHER.verify, password_hash, password)


class AccountError(ValueError):
    """An account could not be created or changed as asked."""


def normalize_email(email: str) -> str:
    """The stored form of an email address."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2id hash with the OWASP parameters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return off_the_hub(HASHER.hash, password)


@cache
def _decoy_hash() -> str:
    """A hash to verify against when the account does not exist, so timing gives nothing away."""
    return HASHER.hash("no account has this password, it only burns the same time")


def create_editor(conn: psycopg.Connection, email: str, password: str, role: str = "editor") -> int:
    """Create an account and return its id."""
    email = normalize_email(email)
    if "@" not in email.strip("@"):
        raise AccountError("That does not look like an email address.")
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}.")
    try:
        with conn.transaction():
            row = conn.execute(Q.insert_editor, (email, hash_password(password), role)).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise AccountError(f"An account for {email} exists already.") from exc
    return row["id"] if isinstance(row, dict) else row[0]


def authenticate(conn: psycopg.Connection, email: str, password: str) -> dict | None:
    """The active editor with this email and password, or None; always runs one hash verify."""
    with conn.cursor(row_factory=dict_row) as cur:
        editor = cur.execute(Q.editor_for_sign_in, (normalize_email(email),)).fetchone()
    try:
        _verify(editor["password_hash"] if editor else _decoy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if editor is None:
        return None
    if HASHER.check_needs_rehash(editor["password_hash"]):
        conn.execute(Q.set_password_hash, (off_the_hub(HASHER.hash, password), editor["id"]))
    conn.execute(Q.record_login, (editor["id"],))
    return {k: editor[k] for k in ("id", "email", "role")}


def get_editor(conn: psycopg.Connection, editor_id: int) -> dict | None:
    """An active editor by id."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.active_editor, (editor_id,)).fetchone()


def list_editors(conn: psycopg.Connection) -> list[dict]:
    """Every account, active first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.all_editors).fetchall()


def set_active(conn: psycopg.Connection, editor_id: int, active: bool) -> None:
    """Enable or disable an account (the caller revokes its sessions)."""
    conn.execute(Q.set_active, (active, editor_id))


def set_role(conn: psycopg.Connection, editor_id: int, role: str) -> None:
    """Make an account an editor or an admin."""
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}.")
    conn.execute(Q.set_role, (role, editor_id))


@click.command("create-editor")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@with_appcontext
def create_editor_command(email: str, role: str) -> None:
    """Create an editor account; the password is read from stdin (or prompted for)."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with psycopg.connect(
            current_app.config["DATABASE_URL"], **connect.pg_kwargs(current_app.config)
        ) as conn:
            editor_id = create_editor(conn, email, password, role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {normalize_email(email)} (id {editor_id})")


def init_app(app: Flask) -> None:
    """Register the command."""
    app.cli.add_command(create_editor_command)
