"""Fresh PostgreSQL databases for the harness, copied from a migrated template built once.

The schema is migrated once into a template database; every fresh database is then a cheap
`CREATE DATABASE ... TEMPLATE` (about 0.1 s). The demo event likewise is seeded once into a
second template, copied from the first: seeding takes about 0.5 s, and most tests want it. Its
windows are days long, so a copy made minutes later is as good as a fresh seed. Only the
databases made here are dropped, never the developer's `fanfare` database or anyone else's.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg.conninfo import make_conninfo

from fanfare.content.seed import seed_demo
from fanfare.infra import db
from fanfare.settings import DEFAULTS

SERVER_URL = os.environ.get("DATABASE_URL") or str(DEFAULTS["DATABASE_URL"])


def seeded(database_url: str) -> str:
    """Insert the demo event into the database at database_url, and return that URL."""
    with psycopg.connect(database_url) as conn:
        seed_demo(conn)
    return database_url


class Databases:
    """Migrated databases on one server, named prefix_*; use as a context manager or close()."""

    def __init__(self, *, prefix: str = "fanfare_test", server_url: str = SERVER_URL) -> None:
        self.prefix = prefix
        self.server_url = server_url
        self.template: str | None = None
        self.demo_template: str | None = None
        self.created: list[str] = []
        # Databases released by finished tests, dropped in the background meanwhile.
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-databases")
        self._dropping: list[Future] = []

    def __enter__(self) -> Databases:
        """The factory itself; leaving the block drops what it created."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Drop everything, as close() does."""
        self.close()

    def url(self, name: str) -> str:
        """The conninfo of database name on this server."""
        return make_conninfo(self.server_url, dbname=name)

    def _admin(self, sql: str) -> None:
        """Run one statement on the server's maintenance database."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def _create(self, *, template: str | None = None) -> str:
        """Create a uniquely named database (a copy of template, if given) and remember it."""
        name = f"{self.prefix}_{'t' if template else 'tpl'}_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return name

    def create(self) -> str:
        """A fresh, migrated, empty database; the template is migrated on the first call."""
        if self.template is None:
            template = self._create()
            db.migrate(self.url(template))
            self.template = template
        return self.url(self._create(template=self.template))

    def create_demo(self) -> str:
        """A fresh database holding the demo event; its template is seeded on the first call."""
        if self.demo_template is None:
            self.create()  # the migrated template, if it is not there yet
            demo_template = self._create(template=self.template)
            seeded(self.url(demo_template))
            self.demo_template = demo_template
        return self.url(self._create(template=self.demo_template))

    def drop_soon(self, urls: list[str]) -> None:
        """Drop these databases in the background, once nothing uses them any more.

        A drop waits for a checkpoint (0.1 s on a quiet machine, seconds on a busy one): left
        for close(), a session's few hundred made its last test wait minutes.
        """
        names = {name for name in self.created if self.url(name) in urls}
        self.created = [name for name in self.created if name not in names]
        self._dropping += [self._dropper.submit(self._drop, name) for name in names]

    def close(self) -> None:
        """Drop every database made here: the background drops first, then the rest.

        One at a time: a drop waits for a checkpoint, and concurrent drops were slower, not
        faster, on a busy machine (a worker's end-of-session drops: 30 s one by one, 150 s
        eight at a time, in two full runs under a similar load).
        """
        for dropping in self._dropping:
            dropping.result()  # each error raised
        self._dropping = []
        while self.created:
            self._drop(self.created.pop())
        self.template = self.demo_template = None

    def _drop(self, name: str) -> None:
        """Drop one database made here, closing whatever is still connected to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
