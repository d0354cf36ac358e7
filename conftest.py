"""Fixtures shared by tests/ and e2e/: real PostgreSQL, a private Redis, and the stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg.conninfo import make_conninfo

from fanfare.app import create_web_app
from fanfare.content.seed import seed_demo
from fanfare.infra import db
from fanfare.settings import DEFAULTS
from harness.stack import Stack, free_port

SERVER_URL = os.environ.get("DATABASE_URL") or str(DEFAULTS["DATABASE_URL"])


def _admin(sql: str) -> None:
    """Run one statement on the server's maintenance database."""
    with psycopg.connect(make_conninfo(SERVER_URL, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database, built once per session and dropped at its end."""
    name = f"fanfare_tpl_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        db.migrate(make_conninfo(SERVER_URL, dbname=name))
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def create_database(pg_template: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases copied from the template; all dropped at session end."""
    created: list[str] = []

    def create() -> str:
        name = f"fanfare_t_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
        created.append(name)
        return make_conninfo(SERVER_URL, dbname=name)

    yield create
    for name in created:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(create_database: Callable[[], str]) -> str:
    """A fresh, migrated, empty database for one test."""
    return create_database()


@pytest.fixture
def demo(database_url: str) -> str:
    """A fresh database holding the demo event."""
    with psycopg.connect(database_url) as conn:
        seed_demo(conn)
    return database_url


class RedisServer:
    """A private redis-server on a free port, which tests may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port) and wait for PING."""
        with (self.workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                    "--maxmemory-policy",
                    "noeviction",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        with redis.Redis(port=self.port) as client:  # closed, or filterwarnings=error trips
            for _ in range(100):
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    subprocess.run(["sleep", "0.05"], check=True)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        """Stop it by its PID."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private Redis for the session, so tests never touch a developer's data."""
    assert shutil.which("redis-server"), "redis-server is not installed: run `make test`"
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The private Redis, emptied for this test (and restarted if a test stopped it)."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


def _app_settings(database_url: str, redis_url: str, **extra: object) -> dict:
    """Settings for an in-process app under test; extras override."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # No purges unless a test names its own edge: never a developer's edge on :8000.
        "EDGE_URLS": "",
        **extra,
    }


@pytest.fixture(scope="session")
def app_settings() -> Callable[..., dict]:
    """The settings factory, as a fixture because conftest.py is not importable."""
    return _app_settings


@pytest.fixture
def app(database_url: str, redis_url: str):
    """The web app on a fresh database."""
    app = create_web_app(_app_settings(database_url, redis_url))
    yield app
    db.close(app)


@pytest.fixture
def client(app):
    """A test client for the web app."""
    return app.test_client()


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start Procfile processes on free ports against given databases; stopped after the test."""
    stacks: list[Stack] = []

    def make(database_url: str, redis_url: str, *names: str, **env: str) -> Stack:
        stack = Stack(
            run_dir=tmp_path / f"stack{len(stacks)}",
            env={
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "FANFARE_SECRET_KEY": "test-secret-key",
                "FANFARE_WORKERS": "1",
                **env,
            },
        )
        stacks.append(stack)
        return stack.start(*names)

    yield make
    for stack in stacks:
        stack.close()
