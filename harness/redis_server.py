"""The one private redis-server of the harness: a free port, a work dir, stoppable and restartable.

Tests run it without persistence and may stop it and start it again on the same port; the bench
asks for production persistence (AOF with fsync every second). Both refuse to evict: a full Redis
must fail a write, never drop a queued vote.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness import process
from harness.process import free_port

# redis-server's log line once it has loaded its data: "123:M 01 Dec 2026 12:34:36.396 * Ready
# to accept connections" (local time, as datetime.timestamp() reads a naive time).
READY = re.compile(r"^\d+:M (\d\d \w{3} \d{4} [\d:.]+) \* Ready to accept connections", re.M)


class RedisServer:
    """A redis-server on a free 127.0.0.1 port; use start()/stop() or as a context manager."""

    def __init__(
        self, *, workdir: Path, persistent: bool = False, replica_of: int | None = None
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.replica_of = replica_of  # the primary's port, for a replica (the fleet)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's redis:// URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server this object started is still alive."""
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """The redis-server command line: never RDB snapshots; AOF only when persistent."""
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        replica = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        # A config file, even empty, lets Sentinel CONFIG REWRITE a replica's new primary.
        config = self.workdir / "redis.conf"
        if not config.exists():
            config.write_text("# rewritten by Sentinel on failover\n")
        return [
            *("redis-server", str(config)),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)),
            *("--save", "", "--maxmemory-policy", "noeviction"),
            *(persistence if self.persistent else ["--appendonly", "no"]),
            *replica,
        ]

    def client(self, **options: Any) -> redis.Redis:
        """A new client of this server; options go to redis.Redis (socket_timeout=...)."""
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def start(self, *, timeout: float = 10.0) -> RedisServer:
        """Start it (again, on the same port) and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        self.process = process.spawn(command, log=self.workdir / "redis.log")
        deadline = time.monotonic() + timeout
        # No retries inside redis-py: its backoff would make this return up to seconds late.
        # Closed on leaving, or filterwarnings=error trips.
        with self.client(retry=Retry(NoBackoff(), 0)) as client:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if not self.running or time.monotonic() > deadline:
                        self.stop()
                        where = self.workdir / "redis.log"
                        raise TimeoutError(f"redis-server did not start; see {where}") from None
                    time.sleep(0.05)

    def ready_at(self) -> float | None:
        """When the server last said "Ready to accept connections" (Unix time, to the ms), from
        its own log: the moment a restarted Redis could really take votes again (AOF loaded)."""
        log = self.workdir / "redis.log"
        found = READY.findall(log.read_text(errors="replace")) if log.exists() else []
        return datetime.strptime(found[-1], "%d %b %Y %H:%M:%S.%f").timestamp() if found else None

    def wait_replicas(self, count: int = 1, *, timeout: float = 15.0) -> None:
        """Wait until count replicas are online (synced), so WAIT can be answered."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                info = client.info("replication")
                online = [
                    info[key]
                    for key in info
                    if key.startswith("slave") and info[key].get("state") == "online"
                ]
                if len(online) >= count:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{count} replicas of {self.url} were not online in time")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop it by its PID, if it runs."""
        if self.process is not None:
            process.stop(self.process, timeout=10)

    def kill(self) -> None:
        """kill -9, as a crash would: no shutdown save; what the AOF holds is what comes back."""
        if self.process is not None:
            process.stop(self.process, sig=signal.SIGKILL)

    def restart(self) -> RedisServer:
        """Stop it and start it again on the same port (empty unless persistent)."""
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        """Start it for the with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop it."""
        self.stop()
