"""A fleet on one machine: several edges, web, ingest and writer processes, on proven engines.

Redis is a primary with one replica watched by three Sentinels, PostgreSQL sits behind PgBouncer
in transaction mode, and every app process finds them that way (REDIS_SENTINELS,
DB_BEHIND_PGBOUNCER), with WAIT 1 before each 202. Processes are the Procfile's, started through
the harness's Stack under instance names (web1, ingest2, edge1, worker2, ...), each on its own
free port, so any one can be killed and started again by name.
"""

from __future__ import annotations

import signal
from contextlib import ExitStack
from pathlib import Path

from harness.pgbouncer import PgBouncer
from harness.process import free_port, wait_http
from harness.redis_server import RedisServer
from harness.sentinel import Sentinels
from harness.stack import Stack

EDGE_SCRIPT = "scripts/edge.sh"
PORT_VARIABLE = {"web": "FANFARE_WEB_PORT", "ingest": "FANFARE_INGEST_PORT"}


class Fleet:
    """Start with the context manager; every process and server is stopped on leaving it."""

    def __init__(
        self,
        *,
        run_dir: Path,
        server_url: str,
        database_url: str,
        counts: dict[str, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """env: more environment variables for every process (FANFARE_LOG_LEVEL=...)."""
        self.run_dir = run_dir
        self.server_url = server_url
        self.direct_database_url = database_url
        self.counts = {"edge": 2, "web": 2, "ingest": 3, "worker": 2, **(counts or {})}
        self.extra_env = env or {}
        self.resources = ExitStack()
        self.primary = RedisServer(workdir=run_dir / "redis-a", persistent=True)
        self.replica = RedisServer(
            workdir=run_dir / "redis-b", persistent=True, replica_of=self.primary.port
        )
        self.sentinels = Sentinels(workdir=run_dir / "sentinels", primary_port=self.primary.port)
        self.pgbouncer = PgBouncer(workdir=run_dir / "pgbouncer", server_url=server_url)
        self.stack: Stack | None = None

    def names(self, kind: str) -> list[str]:
        """The instance names of one kind of process: web1, web2, ..."""
        return [f"{kind}{i}" for i in range(1, self.counts[kind] + 1)]

    def url(self, name: str) -> str:
        """Base URL of one instance (edge1, ingest2, ...)."""
        assert self.stack is not None
        return self.stack.url(name)

    def __enter__(self) -> Fleet:
        """Start the engines, then the processes; stop everything if any part fails."""
        try:
            self.resources.enter_context(self.primary)
            self.resources.enter_context(self.replica)
            self.primary.wait_replicas(1)
            self.resources.enter_context(self.sentinels)
            self.resources.enter_context(self.pgbouncer)
            self._start_processes()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop everything, as close() does."""
        self.close()

    def _start_processes(self) -> None:
        """Every process on its own port; all finding Redis and PostgreSQL the fleet's way."""
        names = [n for kind in ("web", "ingest", "edge") for n in self.names(kind)]
        ports = {"edge": free_port(), "web": free_port(), "ingest": free_port()}
        ports.update({name: free_port() for name in names})
        edges = " ".join(f"http://127.0.0.1:{ports[name]}" for name in self.names("edge"))
        env = {
            "FANFARE_REDIS_SENTINELS": self.sentinels.addresses,
            "FANFARE_REDIS_SENTINEL_MASTER": self.sentinels.name,
            "FANFARE_REDIS_WAIT_REPLICAS": "1",
            "FANFARE_DB_BEHIND_PGBOUNCER": "true",
            "FANFARE_EDGE_URLS": edges,
            **self.extra_env,
        }
        self.stack = self.resources.enter_context(
            Stack(
                run_dir=self.run_dir,
                database_url=self.pgbouncer.url(self.direct_database_url),
                # Only the database number is read from it: the address comes from Sentinel.
                redis_url="redis://sentinel-managed/0",
                env=env,
            )
        )
        self.stack.ports.update(ports)
        for name in [*self.names("web"), *self.names("ingest"), *self.names("edge")]:
            self.start(name)
        for name in [*self.names("worker"), "scheduler"]:
            self.start(name)

    def start(self, name: str, *, timeout: float = 60.0) -> None:
        """Start (or start again) one instance by name, and wait for its /healthz if it has one."""
        assert self.stack is not None
        kind = name.rstrip("0123456789")
        port = str(self.stack.ports.get(name, ""))
        if kind == "edge":
            webs = ",".join(str(self.stack.ports[n]) for n in self.names("web"))
            ingests = ",".join(str(self.stack.ports[n]) for n in self.names("ingest"))
            edge_dir = str(self.run_dir / name)
            self.stack.spawn(name, [EDGE_SCRIPT, port, webs, ingests, edge_dir])
        else:
            command = self.stack.commands[kind]
            env = {PORT_VARIABLE[kind]: port} if kind in PORT_VARIABLE else {}
            # Each gunicorn empties its metrics dir (under the run dir) at start: one per instance.
            env["FANFARE_RUN_DIR"] = str(self.run_dir / name)
            self.stack.spawn(name, ["bash", "-c", command], env=env)
        if kind in ("edge", "web", "ingest"):
            try:
                wait_http(self.url(name) + "/healthz", timeout=timeout)
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}\n{self.stack.log_tails([name])}") from exc

    def kill(self, name: str) -> None:
        """kill -9 one instance, as a crash would."""
        assert self.stack is not None
        self.stack.stop(name, sig=signal.SIGKILL)

    def close(self) -> None:
        """Stop every process, then the engines, each by its PID."""
        self.resources.close()
