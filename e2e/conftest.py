"""The e2e harness: Debian's Chromium, and the whole local stack unless --base-url is given.

Without --base-url every Procfile process except `ready` runs on free ports against a seeded
database and a private Redis of its own, logging to files. With --base-url nothing is started,
and tests marked `local_only` (they stop processes or read the database) are skipped.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import BrowserContext, CDPSession, Page
from psycopg.rows import dict_row

from fanfare.edge.purge import PurgeClient
from fanfare.settings import DEFAULTS, ROOT
from fanfare.votes.ballot import forget_shared
from harness.database import Databases
from harness.redis_server import RedisServer
from harness.stack import Stack, procfile

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
# `ready` only prints the URL for `make run`; everything else is the site.
NOT_STARTED = {"ready"}
LOCAL_ONLY_REASON = (
    "needs control of a local stack (its processes or its database); "
    "--base-url points at a deployment, so it is skipped"
)
REPORT = pytest.StashKey["FanReport"]()


@dataclass
class FanReport:
    """Figures the fan checks measured, printed at the end of the run."""

    sections: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, line: str) -> None:
        """Record one line under a section heading."""
        self.sections.setdefault(section, []).append(line)


def pytest_configure(config: pytest.Config) -> None:
    """One report per run."""
    config.stash[REPORT] = FanReport()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against a deployment, skip what needs a local stack, and say why."""
    if not config.getoption("base_url", None):
        return
    for item in items:
        if item.get_closest_marker("local_only"):
            item.add_marker(pytest.mark.skip(reason=LOCAL_ONLY_REASON))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, hand this worker's figures to the controller, which prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)  # set on xdist workers only
    if workeroutput is not None:
        workeroutput["fan_report"] = session.config.stash[REPORT].sections


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent without pytest-xdist
def pytest_testnodedown(node, error) -> None:
    """Merge a finished xdist worker's figures into the controller's report."""
    report = node.config.stash.get(REPORT, None)
    sections = getattr(node, "workeroutput", {}).get("fan_report", {})
    if report is not None:
        for section, lines in sections.items():
            for line in lines:
                report.add(section, line)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the measured figures (page weight, accessibility, timings) after the results."""
    report = config.stash.get(REPORT, None)
    if report is None or not report.sections:
        return
    for section, lines in report.sections.items():
        terminalreporter.section(section, sep="-")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def fan_report(pytestconfig: pytest.Config) -> FanReport:
    """Where tests put the figures they measured, so they show in the test output."""
    return pytestconfig.stash[REPORT]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium: Playwright's own browser downloads are not available."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def is_local(pytestconfig: pytest.Config) -> bool:
    """True when the suite runs its own stack, False against a deployment."""
    return not pytestconfig.getoption("base_url", None)


@pytest.fixture(scope="session")
def stack_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The local stack's own Redis, apart from the session one that tests/ flush and fill.

    Under pytest-xdist a worker runs tests/ files after e2e ones while this stack still runs:
    on a shared Redis its writer, mail sink and exporter would drain those tests' queues.
    """
    with RedisServer(workdir=tmp_path_factory.mktemp("stack-redis")) as server:
        yield server


@pytest.fixture(scope="session")
def local_stack(
    is_local: bool,
    databases: Databases,
    stack_redis: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    fan_report: FanReport,
) -> Iterator[Stack]:
    """Every Procfile process but `ready`, on free ports, against a seeded database of its own."""
    if not is_local:
        pytest.skip(LOCAL_ONLY_REASON)
    stack = Stack(
        run_dir=tmp_path_factory.mktemp("stack"),
        database_url=databases.create_demo(),
        redis_url=stack_redis.url,
        # Every browser here is a new voter from 127.0.0.1, one NAT; the challenge tests
        # (test_fan_challenge.py) flag that address themselves, as detection would.
        env={
            "FANFARE_NEW_VOTER_BUDGET_PER_IP": "100000",
            "FANFARE_NEW_VOTER_BUDGET_PER_SUBNET": "100000",
        },
    )
    names = [name for name in procfile() if name not in NOT_STARTED]
    fan_report.add("local stack", f"{', '.join(names)} at {stack.url()}; logs in {stack.run_dir}")
    try:
        yield stack.start(*names, timeout=60)  # a TimeoutError carries the logs' last lines
    finally:
        for name, process in stack.processes.items():
            if process.poll() is not None:  # a crash mid-run explains odd failures
                fan_report.add("local stack", f"{name} exited early ({process.returncode})")
        stack.close()


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest, is_local: bool) -> str:
    """--base-url when given (a deployment); otherwise the local stack's edge."""
    if not is_local:
        return request.config.getoption("base_url").rstrip("/")
    return request.getfixturevalue("local_stack").url()


@pytest.fixture
def stack_db(local_stack: Stack) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the local stack's database (local_only tests)."""
    with psycopg.connect(
        local_stack.env["DATABASE_URL"], autocommit=True, row_factory=dict_row
    ) as conn:
        yield conn


@pytest.fixture
def edge_purge(local_stack: Stack) -> Callable[..., None]:
    """Purge surrogate keys at the local edge and wait until it is done."""

    def purge(*keys: str) -> None:
        client = PurgeClient([local_stack.url()])
        client.purge(keys, soft=False)
        # flush() also returns once the client gave up on an edge; the test's own checks
        # (what the page shows next) are what prove the purge worked.
        assert client.flush(timeout=10), "the purge was still queued after 10 s"

    return purge


@pytest.fixture
def fan_context(new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """A fresh browser context (a fresh voter) with tracing and screenshots on failure.

    Takes new_context's arguments: a device profile from playwright.devices, or
    java_script_enabled=False for a no-JS fan.
    """

    def make(**kwargs) -> BrowserContext:
        # Device profiles name the browser they were measured on; we always run Chromium.
        kwargs.pop("default_browser_type", None)
        return new_context(**kwargs)

    return make


@pytest.fixture
def cdp(page: Page) -> CDPSession:
    """A Chrome DevTools session on the test's page (network throttling, raw network events)."""
    return page.context.new_cdp_session(page)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from node_modules (pinned in package.json), to inject into pages."""
    path = Path(ROOT / "node_modules" / "axe-core" / "axe.min.js")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm ci` (make does it for you)")
    return path.read_text()


@dataclass(frozen=True)
class OwnCategory:
    """A live category of a test's own, with its window and nominees, in the local stack."""

    id: int
    slug: str
    nominees: list[str]


@pytest.fixture
def own_category(stack_db: psycopg.Connection, stack_redis: RedisServer) -> OwnCategory:
    """A live, open category in an older event of its own, so the demo home page is untouched.

    The home page shows the event that starts latest; this one started a year ago.
    """
    tag = uuid.uuid4().hex[:8]
    (event_id,) = (
        stack_db.execute(
            "INSERT INTO events (slug, name, starts_at, published_at)"
            " VALUES (%s, 'E2E Archive', now() - interval '1 year', now() - interval '1 day')"
            " RETURNING id",
            (f"e2e-{tag}",),
        )
        .fetchone()
        .values()
    )
    slug = f"e2e-last-call-{tag}"
    (category_id,) = (
        stack_db.execute(
            "INSERT INTO categories (event_id, slug, name, description, results_mode, published_at)"
            " VALUES (%s, %s, 'Last Call', 'A category of the e2e suite.', 'live',"
            " now() - interval '1 day') RETURNING id",
            (event_id, slug),
        )
        .fetchone()
        .values()
    )
    stack_db.execute(
        "INSERT INTO voting_windows (category_id, opens_at, closes_at)"
        " VALUES (%s, now() - interval '1 hour', now() + interval '1 hour')",
        (category_id,),
    )
    names = ["Early Bird", "Night Owl"]
    for position, name in enumerate(names):
        stack_db.execute(
            "INSERT INTO nominees (category_id, slug, name, position, published_at)"
            " VALUES (%s, %s, %s, %s, now() - interval '1 day')",
            (category_id, f"{name.lower().replace(' ', '-')}-{tag}", name, position),
        )
    # Made in SQL, not published by an editor: do what publishing does (after_publish), so that
    # ingest knows the category before the test votes in it, not only once its cache expires.
    with stack_redis.client() as client:
        forget_shared(client)
    time.sleep(float(DEFAULTS["BALLOT_REFRESH_SECONDS"]))  # each ingest process reloads by then
    return OwnCategory(id=category_id, slug=slug, nominees=names)
