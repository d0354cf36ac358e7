"""What a benchmark run stands up, on free 127.0.0.1 ports, and takes down again.

A fresh PostgreSQL database (migrated, demo event seeded), a private redis-server with the
production persistence settings, fanfare's stack (edge, web, ingest) via fanfare.stack.Stack,
vote writers started on demand, and the two comparison apps: the naive baseline and the ceiling.
Only what was created here is stopped or dropped, by PID or by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import redis
from psycopg.conninfo import make_conninfo

from fanfare.content.seed import seed_demo
from fanfare.infra import db
from fanfare.settings import DEFAULTS, ROOT
from harness.process import free_port
from harness.stack import Stack

BENCH = Path(__file__).resolve().parent
SERVER_URL = os.environ.get("DATABASE_URL") or str(DEFAULTS["DATABASE_URL"])
CATEGORY = "breakthrough-artist"  # open, live results, quota 1: every request is a new voter
# All load comes from 127.0.0.1, so the per-IP and per-subnet vote limits are raised for the
# bench stack; they are still checked on every vote (the Redis counters cost what they cost).
STACK_ENV = {
    "FANFARE_SECRET_KEY": "bench-secret-key",
    "FANFARE_LOG_LEVEL": "warning",
    "FANFARE_VOTE_LIMIT_PER_IP": "100000000/minute",
    "FANFARE_VOTE_LIMIT_PER_SUBNET": "100000000/minute",
}


def _admin(sql: str) -> None:
    with psycopg.connect(make_conninfo(SERVER_URL, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _popen(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A process in its own session, output to a file (pipes can deadlock)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM its process group, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Site:
    """Everything one benchmark run needs; use as a context manager."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.db_name = f"fanfare_bench_{uuid.uuid4().hex[:10]}"
        self.database_url = make_conninfo(SERVER_URL, dbname=self.db_name)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis_process: subprocess.Popen | None = None
        self.stack: Stack | None = None
        self.workers: list[subprocess.Popen] = []
        self.others: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.category_id = 0
        self.window_id = 0
        self.nominees: list[int] = []
        self.category_slug = CATEGORY

    def __enter__(self) -> Site:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._database()
            self._redis()
            self.stack = Stack(
                run_dir=self.run_dir / "stack",
                database_url=self.database_url,
                redis_url=self.redis_url,
                workers=None,
                env=STACK_ENV,
            ).start("web", "ingest", "edge", timeout=60)
            self._others()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _database(self) -> None:
        _admin(f'CREATE DATABASE "{self.db_name}"')
        db.migrate(self.database_url)
        sys.path.insert(0, str(BENCH))
        from naive_app import CREATE

        with psycopg.connect(self.database_url) as conn:
            seed_demo(conn)
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

    def _redis(self) -> None:
        """Production persistence (AOF, fsync every second, no eviction), on a free port."""
        workdir = self.run_dir / "redis"
        workdir.mkdir(exist_ok=True)
        self.redis_process = _popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
            ],
            workdir / "redis.log",
            dict(os.environ),
        )
        client = self.redis()
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def _others(self) -> None:
        """The naive baseline (5 sync workers) and the ceiling (fanfare's gunicorn settings)."""
        assert self.stack is not None
        env = {**self.stack.env, "PYTHONPATH": str(BENCH)}
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        apps = {
            "naive": ["-k", "sync", "-w", "5", "naive_app:app"],
            "ceiling": ["hello_app:app"],
        }
        for name, args in apps.items():
            self.ports[name] = port = free_port()
            command = [gunicorn, "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", *args]
            self.others[name] = _popen(command, self.run_dir / f"{name}.log", env)
        for name in apps:
            wait_http_any(self.url(name) + "/votes", timeout=30)

    def url(self, name: str) -> str:
        """Base URL of edge, web, ingest, naive or ceiling."""
        if name in self.ports:
            return f"http://127.0.0.1:{self.ports[name]}"
        assert self.stack is not None
        return self.stack.url(name)

    def port(self, name: str) -> int:
        """The port of edge, web, ingest, naive or ceiling."""
        if name in self.ports:
            return self.ports[name]
        assert self.stack is not None
        return self.stack.ports[name]

    def edge_workdir(self) -> Path:
        """Varnish's -n directory (scripts/edge.sh puts it under the stack's run dir)."""
        assert self.stack is not None
        return self.stack.run_dir / "edge" / "varnish"

    def redis(self) -> redis.Redis:
        """A client of the private Redis."""
        return redis.Redis(port=self.redis_port, socket_timeout=30)

    def pid(self, name: str) -> int:
        """The PID of a stack process (the gunicorn master for web and ingest)."""
        if name in self.others:
            return self.others[name].pid
        assert self.stack is not None
        return self.stack.processes[name].pid

    def start_workers(self, n: int) -> None:
        """Start n vote writers (python -m workers.vote_writer) against this run's stores."""
        assert self.stack is not None
        for i in range(n):
            log = self.run_dir / f"worker{len(self.workers) + i}.log"
            self.workers.append(
                _popen([sys.executable, "-m", "workers.vote_writer"], log, self.stack.env)
            )

    def stop_workers(self) -> None:
        """Warm-stop every vote writer."""
        for process in self.workers:
            _stop(process)
        self.workers.clear()

    def close(self) -> None:
        """Stop and drop everything this run created."""
        self.stop_workers()
        for process in self.others.values():
            _stop(process)
        if self.stack is not None:
            self.stack.close()
        if self.redis_process is not None:
            _stop(self.redis_process)
        _admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def wait_http_any(url: str, *, timeout: float) -> None:
    """Wait until url answers at all (a 405 for GET on a POST route is fine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
