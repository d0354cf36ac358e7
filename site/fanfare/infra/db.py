"""PostgreSQL: one pool per process, numbered SQL migrations, and the `migrate` command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import click
import psycopg
from flask import Flask, current_app
from flask.cli import with_appcontext
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from fanfare.infra import connect, sql

EXTENSION = "fanfare.db"
# Any fixed number: migrations from concurrent starts wait for each other.
MIGRATION_LOCK = 727_001
Q = sql.queries("migrate")


class DatabaseError(RuntimeError):
    """PostgreSQL could not do what was asked."""


def make_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 10, behind_pgbouncer: bool = False
) -> ConnectionPool:
    """A pool that checks connections before lending them and is opened by the caller."""
    return ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        check=ConnectionPool.check_connection,
        kwargs={
            "row_factory": dict_row,
            "autocommit": False,
            **connect.pg_kwargs({"DB_BEHIND_PGBOUNCER": behind_pgbouncer}),
        },
        name="fanfare",
    )


def init_app(app: Flask) -> None:
    """Create the pool (opened lazily, inside the serving process) and register the CLI."""
    app.extensions[EXTENSION] = make_pool(
        app.config["DATABASE_URL"],
        min_size=int(app.config["DB_POOL_MIN"]),
        max_size=int(app.config["DB_POOL_MAX"]),
        behind_pgbouncer=bool(app.config["DB_BEHIND_PGBOUNCER"]),
    )
    app.cli.add_command(migrate_command)


def pool() -> ConnectionPool:
    """The current app's pool, opened on first use so gevent has patched sockets by then."""
    p: ConnectionPool = current_app.extensions[EXTENSION]
    if p.closed:
        p.open(wait=False)
    return p


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """Borrow a connection; the block commits on success and rolls back on error."""
    try:
        with pool().connection() as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseError(str(exc)) from exc


def close(app: Flask) -> None:
    """Close the pool, for gunicorn's worker_exit and tests."""
    p: ConnectionPool | None = app.extensions.get(EXTENSION)
    if p is not None and not p.closed:
        p.close()


def migrations() -> list[tuple[int, str, str]]:
    """Every (number, name, sql) in sql/migrations, in order."""
    folder = resources.files("fanfare") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text()))
    return sorted(found)


def migrate(conninfo: str) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    applied_now = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(Q.create_schema_migrations)
            done = {row[0] for row in conn.execute(Q.applied_versions)}
            for number, name, script in migrations():
                if number in done:
                    continue
                with conn.transaction():
                    conn.execute(script)
                    conn.execute(Q.record_migration, (number, name))
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now


@click.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Apply pending database migrations."""
    names = migrate(current_app.config["DATABASE_URL"])
    click.echo("applied: " + ", ".join(names) if names else "database is up to date")
