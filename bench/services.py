"""What a benchmark run stands up, on free 127.0.0.1 ports, and takes down again.

All of it comes from the dev harness (harness/): a fresh PostgreSQL database (migrated, demo
event seeded), a private redis-server with the production persistence settings, fanfare's stack
(edge, web, ingest), vote writers started on demand, and the two comparison apps (the naive
baseline and the ceiling) as processes of the same stack. Only what was created here is stopped
or dropped, by PID or by name.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import psycopg
import redis

from harness.database import Databases
from harness.process import free_port, wait_http
from harness.redis_server import RedisServer
from harness.stack import Stack

BENCH = Path(__file__).resolve().parent
CATEGORY = "breakthrough-artist"  # open, live results, quota 1: every request is a new voter
# All load comes from 127.0.0.1, so the per-IP and per-subnet vote limits are raised for the
# bench stack; they are still checked on every vote (the Redis counters cost what they cost).
STACK_ENV = {
    "FANFARE_LOG_LEVEL": "warning",
    "FANFARE_VOTE_LIMIT_PER_IP": "100000000/minute",
    "FANFARE_VOTE_LIMIT_PER_SUBNET": "100000000/minute",
    # The same for the new-voter budget (issue 14): still spent on every cookieless vote.
    "FANFARE_NEW_VOTER_BUDGET_PER_IP": "100000000",
    "FANFARE_NEW_VOTER_BUDGET_PER_SUBNET": "100000000",
}


def ballot(database_url: str, slug: str = CATEGORY) -> tuple[int, list[int]]:
    """The id of the category the load votes in, and its nominees' ids."""
    with psycopg.connect(database_url) as conn:
        (category,) = conn.execute("SELECT id FROM categories WHERE slug = %s", (slug,)).fetchone()
        rows = conn.execute("SELECT id FROM nominees WHERE category_id = %s", (category,))
        return category, [row[0] for row in rows]


class Site:
    """Everything one benchmark run needs; use as a context manager."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.resources = ExitStack()
        self.database_url = ""
        self.redis_server: RedisServer | None = None
        self.stack: Stack | None = None
        self.writers: list[str] = []
        self.category_id = 0
        self.window_id = 0
        self.nominees: list[int] = []
        self.category_slug = CATEGORY

    def __enter__(self) -> Site:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            databases = self.resources.enter_context(Databases(prefix="fanfare_bench"))
            self.database_url = databases.create_demo()
            self._ballot()
            self.redis_server = self.resources.enter_context(
                RedisServer(workdir=self.run_dir / "redis", persistent=True)
            )
            # workers=None: web and ingest run as many gunicorn workers as in production.
            self.stack = self.resources.enter_context(
                Stack(
                    run_dir=self.run_dir / "stack",
                    database_url=self.database_url,
                    redis_url=self.redis_server.url,
                    workers=None,
                    env=STACK_ENV,
                )
            )
            self.stack.start("web", "ingest", "edge", timeout=60)
            self._others()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ballot(self) -> None:
        """The naive app's table, and the ids of the category every vote goes to."""
        sys.path.insert(0, str(BENCH))
        from naive_app import CREATE

        with psycopg.connect(self.database_url) as conn:
            conn.execute(CREATE)
            self.category_id, self.window_id = conn.execute(
                "SELECT c.id, w.id FROM categories c JOIN voting_windows w ON w.category_id = c.id"
                " WHERE c.slug = %s",
                (CATEGORY,),
            ).fetchone()
            self.nominees = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM nominees WHERE category_id = %s ORDER BY id",
                    (self.category_id,),
                )
            ]

    def _others(self) -> None:
        """The naive baseline (5 sync workers) and the ceiling (fanfare's gunicorn settings)."""
        assert self.stack is not None
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        apps = {
            "naive": ["-k", "sync", "-w", "5", "naive_app:app"],
            "ceiling": ["hello_app:app"],
        }
        for name, args in apps.items():
            self.stack.ports[name] = port = free_port()
            command = [gunicorn, "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", *args]
            self.stack.spawn(name, command, env={"PYTHONPATH": str(BENCH)})
        for name in apps:
            # A 405 for GET on a POST route is an answer too.
            wait_http(self.url(name) + "/votes", timeout=30, any_status=True)

    def url(self, name: str) -> str:
        """Base URL of edge, web, ingest, naive or ceiling."""
        assert self.stack is not None
        return self.stack.url(name)

    def port(self, name: str) -> int:
        """The port of edge, web, ingest, naive or ceiling."""
        assert self.stack is not None
        return self.stack.ports[name]

    def edge_workdir(self) -> Path:
        """Varnish's -n directory, for varnishstat."""
        assert self.stack is not None
        return self.stack.varnish_dir

    def redis(self) -> redis.Redis:
        """A client of the private Redis."""
        assert self.redis_server is not None
        return self.redis_server.client(socket_timeout=30)

    def pid(self, name: str) -> int:
        """The PID of a stack process (the gunicorn master for web, ingest, naive and ceiling)."""
        assert self.stack is not None
        return self.stack.processes[name].pid

    def start_workers(self, n: int) -> None:
        """Start n vote writers (python -m workers.vote_writer) against this run's stores."""
        assert self.stack is not None
        for _ in range(n):
            name = f"writer{len(self.writers)}"
            self.stack.spawn(name, [sys.executable, "-m", "workers.vote_writer"])
            self.writers.append(name)

    def stop_workers(self) -> None:
        """Warm-stop every vote writer."""
        assert self.stack is not None
        for name in self.writers:
            self.stack.stop(name)
        self.writers.clear()

    def close(self) -> None:
        """Stop and drop everything this run created: the stack, then Redis, then the database."""
        self.resources.close()
