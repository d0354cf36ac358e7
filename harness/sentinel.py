"""Redis Sentinels for the harness: a quorum watching one primary, on free ports, stopped by PID.

Each Sentinel runs as a plain process with a generated config under its own work dir (Sentinel
rewrites that file as it learns the replicas and the other Sentinels), never as the packaged
system service. Timeouts are short so that a failover test finishes in seconds: the primary is
judged down after DOWN_AFTER_MS without an answer.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from harness import process
from harness.process import free_port

MASTER_NAME = "fanfare"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


class Sentinels:
    """`count` Sentinels monitoring the primary at primary_port with a majority quorum."""

    def __init__(
        self, *, workdir: Path, primary_port: int, count: int = 3, name: str = MASTER_NAME
    ) -> None:
        self.workdir = workdir
        self.primary_port = primary_port
        self.name = name
        self.ports = [free_port() for _ in range(count)]
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def addresses(self) -> str:
        """The REDIS_SENTINELS setting: space-separated host:port."""
        return " ".join(f"127.0.0.1:{port}" for port in self.ports)

    def _config(self, port: int) -> Path:
        """Write the config of the Sentinel on port (once: it rewrites the file itself)."""
        folder = self.workdir / f"sentinel-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "sentinel.conf"
        if not path.exists():
            quorum = len(self.ports) // 2 + 1
            path.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor {self.name} 127.0.0.1 {self.primary_port} {quorum}\n"
                f"sentinel down-after-milliseconds {self.name} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {self.name} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {self.name} 1\n"
            )
        return path

    def start(self, *, timeout: float = 10.0) -> Sentinels:
        """Start every Sentinel and wait until each one knows the primary."""
        for port in self.ports:
            config = self._config(port)
            self.processes[port] = process.spawn(
                ["redis-sentinel", str(config)], log=config.parent / "sentinel.log"
            )
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while self.primary(port) is None:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"Sentinel on {port} did not start; see {self.workdir}")
                time.sleep(0.1)
        return self

    def primary(self, port: int | None = None) -> tuple[str, int] | None:
        """The primary's address as one Sentinel (the first, by default) sees it now."""
        try:
            with redis.Redis(
                port=port or self.ports[0], socket_timeout=1, decode_responses=True
            ) as client:
                reply = client.sentinel_get_master_addr_by_name(self.name)
        except redis.RedisError:
            return None
        return (reply[0], int(reply[1])) if reply else None

    def wait_for_primary(self, port: int, *, timeout: float = 30.0) -> float:
        """Wait until every Sentinel names the server on port as primary; return seconds taken."""
        started = time.monotonic()
        while any(self.primary(each) != ("127.0.0.1", port) for each in self.ports):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"Sentinels did not promote 127.0.0.1:{port}")
            time.sleep(0.1)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop every Sentinel this object started, by PID."""
        while self.processes:
            _, started = self.processes.popitem()
            process.stop(started, timeout=5)

    def __enter__(self) -> Sentinels:
        """Start them for the with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop them."""
        self.stop()
