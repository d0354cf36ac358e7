"""Fixtures shared by tests/ and e2e/: real PostgreSQL, a private Redis, and the stack.

The services themselves come from the dev harness (harness/); these fixtures only scope them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fanfare.app import create_web_app
from fanfare.infra import db
from harness.database import Databases
from harness.redis_server import RedisServer
from harness.stack import SECRET_KEY, Stack, close_all


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Fresh databases copied from one migrated template; all dropped at session end."""
    with Databases() as factory:
        yield factory


@pytest.fixture(scope="session")
def _finished_tests_databases(databases: Databases) -> list[str]:
    """Databases of tests that finished: dropped in the background as the next test starts.

    Not at their own teardown: a test's stacks may still be connected then (make_stack's
    teardown can come after database_url's), and a forced drop would cut them off.
    """
    return []


@pytest.fixture
def database_url(
    databases: Databases, request: pytest.FixtureRequest, _finished_tests_databases: list[str]
) -> Iterator[str]:
    """A fresh, migrated database for one test: empty, or seeded if the test also uses demo.

    Seeded as a copy of a seeded template (harness/database.py), so that demo, app and
    everything else built on database_url keep sharing one database.
    """
    databases.drop_soon(_finished_tests_databases)
    _finished_tests_databases.clear()
    url = databases.create_demo() if "demo" in request.fixturenames else databases.create()
    yield url
    _finished_tests_databases.append(url)


@pytest.fixture
def demo(database_url: str) -> str:
    """A fresh database holding the demo event (database_url, seeded)."""
    return database_url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private Redis for the session, so tests never touch a developer's data."""
    assert shutil.which("redis-server"), "redis-server is not installed: run `make test`"
    with RedisServer(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The private Redis, emptied for this test (and restarted if a test stopped it)."""
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


def _app_settings(database_url: str, redis_url: str, **extra: object) -> dict:
    """Settings for an in-process app under test; extras override."""
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET_KEY,
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


def _stack_factory(run_dir: Path) -> Iterator[Callable[..., Stack]]:
    """Start Procfile processes on free ports against given databases; all stopped at the end."""
    stacks: list[Stack] = []

    def make(database_url: str, redis_url: str, *names: str, **env: str) -> Stack:
        stack = Stack(
            run_dir=run_dir / f"stack{len(stacks)}",
            database_url=database_url,
            redis_url=redis_url,
            env=env,
        )
        stacks.append(stack)
        return stack.start(*names)

    yield make
    close_all(stacks)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start Procfile processes on free ports against given databases; stopped after the test."""
    yield from _stack_factory(tmp_path)


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """make_stack for a whole module: stacks started once, stopped after the module's last test.

    Only for tests that read through a stack, or leave it as they found it: a stack takes
    seconds to start and stop, most tests against it milliseconds. Pair it with module_demo.
    """
    yield from _stack_factory(tmp_path_factory.mktemp("module-stack"))


@pytest.fixture(scope="module")
def module_demo(databases: Databases, redis_server: RedisServer) -> str:
    """A database holding the demo event, for a whole module (its module_stack's database).

    Also makes sure the session Redis runs: a test before this module may have stopped it.
    """
    if not redis_server.running:
        redis_server.start()
    return databases.create_demo()
