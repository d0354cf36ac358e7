"""The e2e harness: Debian's Chromium, and the whole local stack unless --base-url is given."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from fanfare.seed import seed_demo
from fanfare.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium: Playwright's own browser downloads are not available."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def local_stack(request, create_database, redis_server, tmp_path_factory) -> Iterator[Stack]:
    """edge, web and ingest on free ports against a seeded database of their own."""
    database_url = create_database()
    with psycopg.connect(database_url) as conn:
        seed_demo(conn)
    stack = Stack(
        run_dir=tmp_path_factory.mktemp("stack"),
        env={
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "FANFARE_SECRET_KEY": "e2e-secret-key",
            "FANFARE_WORKERS": "1",
        },
    )
    try:
        yield stack.start("web", "ingest", "edge", "worker")
    finally:
        stack.close()


@pytest.fixture(scope="session")
def base_url(request) -> str:
    """--base-url when given (a deployment); otherwise the local stack's edge."""
    given = request.config.getoption("base_url")
    if given:
        return given.rstrip("/")
    return request.getfixturevalue("local_stack").url()
