"""The fault schedule of `make chaos`, and the hands that inject each fault, timed.

Times are fractions of the spike's planned length, so a short smoke run (--quick) gets the same
faults in the same order. Every fault records when it began and when the thing was back
(`start`, `end`, seconds since the run's start); for Redis `end` is when the new redis-server
logged "Ready to accept connections" (its AOF loaded), so "while Redis is down" is exactly kill
to accepting votes again, not a fixed window nor our polling's late notice.
Each fault runs in a thread of its own (pg_ctl, redis start and /healthz waits block), so
writer kills go on while PostgreSQL is down, as they would in a bad night.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.pg_cluster import PgCluster
from harness.redis_server import RedisServer
from harness.stack import Stack

WRITER_KILLS = 20
REDIS_DOWN_S = 2.0  # killed, then started again after this long (AOF replay on top)
PG_DOWN_S = 8.0
WEB_FROZEN_S = 20.0


@dataclass
class Fault:
    """One injected fault: what, when planned, and when it really began and ended."""

    name: str  # writer_kill | redis_kill | pg_stop | web_freeze | ingest_kill
    at: float  # planned start, seconds since the run's start
    start: float | None = None
    end: float | None = None
    notes: dict = field(default_factory=dict)


def schedule(spike_s: float) -> list[Fault]:
    """Every fault of the issue, spread over a spike of spike_s seconds."""
    faults = [
        Fault("writer_kill", spike_s * (0.03 + 0.9 * k / WRITER_KILLS)) for k in range(WRITER_KILLS)
    ]
    faults += [Fault("redis_kill", spike_s * f) for f in (0.08, 0.28, 0.48, 0.68, 0.88)]
    faults += [Fault("pg_stop", spike_s * f) for f in (0.16, 0.57)]
    faults.append(Fault("web_freeze", spike_s * 0.33))
    faults.append(Fault("ingest_kill", spike_s * 0.78))
    return sorted(faults, key=lambda f: f.at)


class Injector:
    """Injects faults into one stack, its Redis and its PostgreSQL cluster."""

    def __init__(
        self,
        *,
        stack: Stack,
        redis: RedisServer,
        pg: PgCluster,
        now: Callable[[], float],
        since_epoch: Callable[[float], float],
    ) -> None:
        """now: seconds since the run's start; since_epoch: the same for a Unix time."""
        self.stack = stack
        self.redis = redis
        self.pg = pg
        self.now = now
        self.since_epoch = since_epoch

    def writer_kill(self, fault: Fault) -> None:
        """SIGKILL the vote writer mid-whatever, and start a new one at once."""
        fault.start = self.now()
        self.stack.kill("worker")
        self.stack.start("worker")
        fault.end = self.now()

    def redis_kill(self, fault: Fault) -> None:
        """SIGKILL redis-server; start it again on the same port and AOF a moment later."""
        fault.start = self.now()
        self.redis.kill()
        time.sleep(REDIS_DOWN_S)
        fault.notes["restart_at"] = round(self.now(), 3)
        self.redis.start(timeout=60)
        fault.notes["ping_at"] = round(self.now(), 3)
        ready = self.redis.ready_at()  # Redis's own word, not our polling's: to the ms
        fault.end = self.since_epoch(ready) if ready else self.now()

    def pg_stop(self, fault: Fault) -> None:
        """pg_ctl stop -m immediate (a crash: recovery on start), then start it again."""
        fault.start = self.now()
        self.pg.stop(mode="immediate")
        time.sleep(PG_DOWN_S)
        self.pg.start(timeout=60)
        fault.end = self.now()

    def web_freeze(self, fault: Fault) -> None:
        """SIGSTOP the web origin (master and workers) for WEB_FROZEN_S, then SIGCONT."""
        fault.start = self.now()
        self.stack.signal("web", signal.SIGSTOP)
        try:
            time.sleep(WEB_FROZEN_S)
        finally:
            self.stack.signal("web", signal.SIGCONT)
        fault.end = self.now()

    def ingest_kill(self, fault: Fault) -> None:
        """SIGKILL the ingest service (gunicorn master and workers) and start it again;
        `end` is when its /healthz answers."""
        fault.start = self.now()
        self.stack.kill("ingest")
        self.stack.start("ingest", timeout=60)
        fault.end = self.now()

    async def run(self, faults: list[Fault]) -> None:
        """Inject each fault at its planned time, each in its own thread."""

        async def one(fault: Fault) -> None:
            await asyncio.sleep(max(0.0, fault.at - self.now()))
            try:
                await asyncio.to_thread(getattr(self, fault.name), fault)
            except Exception as exc:  # recorded, and the run goes on: the checker judges
                fault.notes["error"] = repr(exc)
                if fault.end is None:
                    fault.end = self.now()

        await asyncio.gather(*(one(fault) for fault in faults))
