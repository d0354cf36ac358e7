"""The vote writer: moves votes from the Redis stream to PostgreSQL, each counted exactly once.

Per batch of up to BATCH entries: one transaction inserts the votes ON CONFLICT (vote_id) DO
NOTHING, re-judges the really new ones by the shared ballot rules at their ingest timestamp,
applies the per-window quota (voter_usage), adds the counted ones to tallies, and COMMITs; only
then are the entries XACKed and the receipts marked. A crash anywhere before the ACK means the
entries are delivered again (own pending list on restart, XAUTOCLAIM for other consumers') and
absorbed by the primary key. The next batch is read and decoded in a thread while this one is
stored (read_ahead.py). Several writers may run at once.

usage: python -m workers.vote_writer
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
import redis

from fanfare import settings
from fanfare.edge import keys
from fanfare.edge.purge import PurgeClient, client_from_settings
from fanfare.infra import connect, metrics
from fanfare.votes.stream import DEAD_LETTERS, GROUP, STREAM, Vote, mark_receipts
from workers.lifecycle import Backoff, setup_logging, stop_on_signals
from workers.read_ahead import Batch, Entry, ReadAhead, decode_batch
from workers.vote_store import Status, store

log = logging.getLogger("fanfare.vote_writer")

BATCH = 500
BLOCK_MS = 1000
CLAIM_EVERY_SECONDS = 5.0
TRIM_EVERY_SECONDS = 10.0
FORGET_CONSUMER_AFTER_MS = 3_600_000
# Results are purged at the edge at most this often per category, however fast votes arrive.
PURGE_EVERY_SECONDS = 1.0
APPLICATION = "fanfare-vote-writer"
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, psycopg.OperationalError)


class VoteWriter:
    """The read, store, ack loop, with recovery of pending entries and stream trimming."""

    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        conninfo: str,
        connect_kwargs: Mapping[str, Any] | None = None,
        purger: PurgeClient | None = None,
        consumer: str | None = None,
        claim_idle_ms: int = 30_000,
        batch: int = BATCH,
    ) -> None:
        self.redis = redis_client
        self.conninfo = conninfo
        self.connect_kwargs = dict(connect_kwargs or {})  # prepare_threshold behind PgBouncer
        self.purger = purger
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self.forget_consumer_after_ms = FORGET_CONSUMER_AFTER_MS
        self.batch = batch
        self.stopping = False
        self.conn: psycopg.Connection | None = None
        self._own_pending = True  # first re-read what this consumer was given and never acked
        self._group_ready = False
        self._claim_cursor = "0-0"
        self._next_claim = self._next_trim = 0.0
        self._dirty: set[int] = set()
        self._last_purge = 0.0
        self._ahead = ReadAhead(lambda: self._read(ahead=True))

    def run(self) -> None:
        """Loop until stopped; when Redis or PostgreSQL goes away, back off and try again."""
        backoff = Backoff()
        log.info("vote writer %s started", self.consumer)
        while not self.stopping:
            try:
                self.step()
                backoff.reset()
            except TRANSIENT as exc:
                delay = backoff.next()
                log.warning("%s; retrying in %.1fs", exc.__class__.__name__, delay)
                self._reset()
                time.sleep(delay)
            except Exception:  # a bug or a surprise: never exit, the entries stay pending
                delay = backoff.next()
                log.exception("unexpected error; retrying in %.1fs", delay)
                self._reset()
                time.sleep(delay)
        self._finish_read_ahead()
        self.close()

    def step(self) -> int:
        """One read-store-ack round (or a claim round); returns how many entries it handled."""
        if not self._group_ready:
            self._ensure_group()
        claimed = self._claim()
        batch = decode_batch(claimed) if claimed else self._ahead.take()
        batch = batch or decode_batch(self._read())
        if batch.entries:
            if not self._own_pending:  # the next batch is read while this one is stored
                self._ahead.start()
            self.handle(batch)
        self._maybe_purge()
        self._maybe_trim()
        return len(batch.entries)

    def handle(self, batch: Batch) -> None:
        """Store the batch, then in one MULTI: dead letters, receipt statuses and the XACK."""
        started = time.monotonic()
        entries, dead = batch.entries, batch.dead
        statuses, changed = self._store(batch.votes, dead)
        pipe = self.redis.pipeline(transaction=True)
        for entry_id, fields, error in dead:
            log.error("dead-lettering entry %s: %s", entry_id, error)
            pipe.xadd(DEAD_LETTERS, {**fields, b"entry": entry_id, b"error": error})
        mark_receipts(pipe, statuses)
        pipe.xack(STREAM, GROUP, *(entry_id for entry_id, _ in entries))
        pipe.execute()
        self._dirty |= changed
        metrics.batch_written(
            time.monotonic() - started, entries=len(entries), statuses=statuses, dead=len(dead)
        )

    def _store(
        self, decoded: list[tuple[bytes, dict, Vote]], dead: list[tuple[bytes, dict, str]]
    ) -> tuple[dict[uuid.UUID, Status], set[int]]:
        """The batch in one transaction; if PostgreSQL rejects it, vote by vote (poison aside)."""
        if not decoded:
            return {}, set()
        conn = self._connection()
        try:
            return store(conn, [vote for _, _, vote in decoded])
        except psycopg.OperationalError:
            raise  # PostgreSQL is away: the whole batch is retried after a backoff
        except psycopg.Error:
            log.exception("batch refused; storing its %d votes one by one", len(decoded))
        statuses: dict[uuid.UUID, Status] = {}
        changed: set[int] = set()
        for entry_id, fields, vote in decoded:
            try:
                one_status, one_changed = store(conn, [vote])
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                dead.append((entry_id, fields, f"refused by PostgreSQL: {exc}"))
                continue
            statuses.update(one_status)
            changed |= one_changed
        return statuses, changed

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            options = {"autocommit": True, "connect_timeout": 5, **self.connect_kwargs}
            self.conn = psycopg.connect(self.conninfo, application_name=APPLICATION, **options)
        return self.conn

    def _ensure_group(self) -> None:
        """Create the group at the stream's start (votes queued before any writer existed count)."""
        try:
            self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, *, ahead: bool = False) -> list[Entry]:
        """Own pending entries first (after a restart or an error), then new; ahead: no wait."""
        start = "0" if self._own_pending and not ahead else ">"
        try:
            reply = self.redis.xreadgroup(
                GROUP, self.consumer, {STREAM: start}, count=self.batch,
                block=None if ahead else BLOCK_MS,
            )  # fmt: skip
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis lost its data: recreate and carry on
                self._group_ready = False
                return []
            raise
        entries = reply[0][1] if reply else []
        if self._own_pending and not entries and not ahead:
            self._own_pending = False
        return entries

    def _claim(self) -> list[Entry]:
        """Every few seconds, take over entries other consumers left idle (crashed writers)."""
        if time.monotonic() < self._next_claim:
            return []
        next_cursor, entries, _deleted = self.redis.xautoclaim(
            STREAM, GROUP, self.consumer, self.claim_idle_ms, self._claim_cursor, count=self.batch
        )
        self._claim_cursor = next_cursor
        if next_cursor in (b"0-0", "0-0"):
            self._next_claim = time.monotonic() + CLAIM_EVERY_SECONDS
        if entries:
            log.info("claimed %d idle entries", len(entries))
        return entries

    def _maybe_trim(self) -> None:
        """Every few seconds: trim the stream and forget consumers that left nothing behind."""
        if time.monotonic() < self._next_trim:
            return
        self._next_trim = time.monotonic() + TRIM_EVERY_SECONDS
        self.trim()
        self.forget_idle_consumers()

    def trim(self) -> None:
        """Trim the stream below the oldest entry any group has not acked, never further."""
        floors = []
        for group in self.redis.xinfo_groups(STREAM):
            if group["pending"]:
                floors.append(self.redis.xpending(STREAM, group["name"])["min"])
            else:
                floors.append(group["last-delivered-id"])
        if floors:
            floor = min(floors, key=lambda i: tuple(int(p) for p in _text(i).split("-")))
            removed = self.redis.xtrim(STREAM, minid=floor, approximate=False)
            if removed:
                log.info("trimmed %d acked entries below %s", removed, _text(floor))

    def forget_idle_consumers(self) -> None:
        """Delete other consumers (restarted writers) with nothing pending, idle for long."""
        for consumer in self.redis.xinfo_consumers(STREAM, GROUP):
            name = _text(consumer["name"])
            idle = consumer["idle"] >= self.forget_consumer_after_ms
            if name != self.consumer and consumer["pending"] == 0 and idle:
                self.redis.xgroup_delconsumer(STREAM, GROUP, name)

    def _maybe_purge(self) -> None:
        """Purge the results of categories whose tallies changed, at most once a second."""
        due = time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS
        if self._dirty and self.purger and due:
            # A hard purge: a soft one would serve the old counts once more (grace).
            self.purger.purge(keys.counts_changed(self._dirty), soft=False)
            self._dirty.clear()
            self._last_purge = time.monotonic()

    def _finish_read_ahead(self) -> None:
        """On a warm stop, store what was read ahead, rather than leave it for XAUTOCLAIM."""
        try:
            if batch := self._ahead.take():
                self.handle(batch)
        except TRANSIENT as exc:  # it stays pending, for another writer to claim
            log.warning("%s; left the batch read ahead pending", exc.__class__.__name__)

    def _reset(self) -> None:
        """After a failure: re-read our own pending entries, reconnect what broke."""
        self._ahead.discard()  # what it read is pending: it is read again with the rest
        self._own_pending = True
        self._group_ready = False
        if self.conn is not None and (self.conn.closed or self.conn.broken):
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self._ahead.close()
        if self.conn is not None:
            self.conn.close()
        if self.purger is not None:
            self.purger.flush(timeout=5)
        self.redis.close()
        log.info("vote writer %s stopped", self.consumer)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def main() -> None:
    """Entry point for the Procfile: warm stop on the first SIGTERM, cold on the second."""
    setup_logging()
    values = settings.load()
    writer = VoteWriter(
        # socket_timeout must outlast XREADGROUP's BLOCK, or every idle read would time out.
        redis_client=connect.redis_client(
            values, max_connections=4, socket_timeout=BLOCK_MS / 1000 + 10
        ),
        conninfo=str(values["DATABASE_URL"]),
        connect_kwargs=connect.pg_kwargs(values),
        purger=client_from_settings(values),
        claim_idle_ms=int(values["CLAIM_IDLE_MS"]),  # type: ignore[call-overload]
        batch=int(values["WRITER_BATCH"]),  # type: ignore[call-overload]
    )

    metrics.serve(int(values["WRITER_METRICS_PORT"]))  # type: ignore[call-overload]
    stop_on_signals(writer)  # unacked entries are delivered again after a cold stop
    writer.run()


if __name__ == "__main__":
    main()
