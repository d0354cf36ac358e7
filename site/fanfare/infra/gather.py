"""Concurrent Redis commands gathered into one pipeline: one round trip for a burst of callers.

A request greenlet calls `Gatherer.call(...)` and waits; one flusher thread (a greenlet under
gevent) takes everything pending, sends it as a single non-transactional pipeline and hands every
caller its own reply or error. Used for the votes' quota+XADD script (stream.py) and for the rate
limiter's counters (http/ratelimit.py), so a vote costs a few short waits on shared flushes
instead of four round trips of its own.

With wait_replicas set (a fleet), each flush ends with `WAIT n timeout`: Redis replicates
asynchronously, so a write is only safe from a failover once a replica holds it. If fewer
replicas confirm in time, every caller whose command succeeded gets NotReplicated (a 503) instead
of its reply: the command ran on the primary, but nobody was told it was accepted.
"""

from __future__ import annotations

import logging
import threading

import redis
from redis.exceptions import NoScriptError

from fanfare.infra import metrics

log = logging.getLogger(__name__)


class NotReplicated(redis.RedisError):
    """The primary ran the command but too few replicas confirmed it in time."""


class _Waiter:
    """One caller's place in a flush: its command, then its reply or error."""

    __slots__ = ("args", "done", "reply", "error")

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.done = threading.Event()
        self.reply: object = None
        self.error: BaseException | None = None


class Gatherer:
    """Runs commands from many callers as one pipeline per flush."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_batch: int = 1000,
        wait_seconds: float = 10.0,
        stats: dict[str, int] | None = None,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 500,
    ) -> None:
        self.client = client
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        # Counters for /metrics: commands per flush is how much gathering saves.
        self.stats = stats if stats is not None else {}
        self.stats.update(gather_flushes=0, gather_commands=0, gather_not_replicated=0)
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self._scripts: dict[str, str] = {}  # sha -> source, to reload after a Redis restart
        self._pending: list[_Waiter] = []
        # Held only for list and flag updates that cannot yield (see call()).
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flushing = False  # a flusher is running, or is being started

    def script(self, source: str, sha: str) -> str:
        """Remember a script so that EVALSHA survives Redis losing its script cache."""
        self._scripts[sha] = source
        return sha

    def call(self, *args: object) -> object:
        """Run one command in the next flush and return its reply (or raise its error)."""
        waiter = _Waiter(args)
        # Nothing under the lock may yield. Under gevent, Thread.is_alive() and Thread.start()
        # both switch greenlets, and gevent's lock hands over about once per trip round the
        # event loop: checking the flusher inside the lock made every caller wait a loop trip
        # for it, with no timeout, and under a flood of shed 503s votes queued there for as
        # long as the flood lasted (seen in a greenlet dump: 99 votes on this lock).
        with self._lock:
            self._pending.append(waiter)
            self._wake.set()
            start = not self._flushing
            self._flushing = True
        if start:
            threading.Thread(target=self._run, name="redis-gather", daemon=True).start()
        if not waiter.done.wait(self.wait_seconds):
            raise redis.TimeoutError("Redis did not answer in time")
        if waiter.error is not None:
            raise waiter.error
        return waiter.reply

    def _run(self) -> None:
        """Take whatever is pending, flush it as one pipeline, repeat."""
        try:
            while True:
                self._wake.wait()
                with self._lock:
                    batch = self._pending[: self.max_batch]
                    del self._pending[: self.max_batch]
                    if not self._pending:
                        self._wake.clear()
                if batch:
                    self._flush(batch)
        finally:  # killed (GreenletExit, interpreter exit): the next call starts another
            with self._lock:
                self._flushing = False

    def _flush(self, batch: list[_Waiter]) -> None:
        """One pipeline for the batch; every waiter hears back, whatever happened."""
        try:
            replies = self._send(batch)
            retry = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if retry:  # Redis restarted and forgot the scripts: load them, run those again
                for sha in {batch[i].args[1] for i in retry}:
                    self.client.script_load(self._scripts[sha])
                for i, reply in zip(retry, self._send([batch[i] for i in retry]), strict=True):
                    replies[i] = reply
        except Exception as exc:
            if not isinstance(exc, redis.RedisError):
                log.exception("gathered flush failed")
                # Callers answer 503 for a Redis error; a surprise here must not become a 500.
                exc = redis.RedisError(f"gathered flush failed: {exc!r}")
            for waiter in batch:
                waiter.error = exc
                waiter.done.set()
            return
        for waiter, reply in zip(batch, replies, strict=True):
            if isinstance(reply, Exception):
                waiter.error = reply
            else:
                waiter.reply = reply
            waiter.done.set()

    def _send(self, batch: list[_Waiter]) -> list:
        self.stats["gather_flushes"] += 1
        self.stats["gather_commands"] += len(batch)
        metrics.REDIS_GATHERED.inc(len(batch))
        metrics.REDIS_FLUSHES.inc()
        pipe = self.client.pipeline(transaction=False)
        for waiter in batch:
            pipe.execute_command(*waiter.args)
        if not self.wait_replicas:
            return pipe.execute(raise_on_error=False)
        # WAIT covers every write sent before it on this connection: the whole flush.
        pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
        *replies, confirmed = pipe.execute(raise_on_error=False)
        if isinstance(confirmed, int) and confirmed >= self.wait_replicas:
            return replies
        refusal = NotReplicated(f"{confirmed!r} of {self.wait_replicas} replicas confirmed")
        refused = [r if isinstance(r, Exception) else refusal for r in replies]
        self.stats["gather_not_replicated"] += sum(r is refusal for r in refused)
        return refused
