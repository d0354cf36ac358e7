"""The vote writer: moves votes from the Redis stream to PostgreSQL, each counted exactly once.

Per batch of up to BATCH entries: one transaction inserts the votes ON CONFLICT (vote_id) DO
NOTHING, re-judges the really new ones by the shared ballot rules at their ingest timestamp,
applies the per-window quota (voter_usage), adds the counted ones to tallies, and COMMITs; only
then are the entries XACKed and the receipts marked. A crash anywhere before the ACK means the
entries are delivered again (own pending list on restart, XAUTOCLAIM for other consumers') and
absorbed by the primary key. The next batch is read and decoded in a thread while this one is
stored (read_ahead.py), and judged there by a ballot loaded on a connection of its own
(vote_store.BallotAhead); two batches are stored at once, on two connections (in_flight.py).
Several writers may run at once.

An entry delivered more than WRITER_MAX_DELIVERIES times is stored alone; if it still fails for a
reason of its own (not PostgreSQL or Redis being away), it goes to the dead-letter stream and its
receipt says "not counted". If Redis comes back empty (the consumer group is gone), the writer
says so and recreates the group. It checks the Redis server (>= 7; durable in production) first.

usage: python -m workers.vote_writer
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
import redis

from fanfare import settings
from fanfare.edge import keys
from fanfare.edge.purge import PurgeClient, client_from_settings
from fanfare.infra import connect, metrics
from fanfare.infra.redis_checks import RedisUnfit, ServerCheck
from fanfare.votes.stream import GROUP, STREAM, mark_receipts
from workers import stream_upkeep
from workers.in_flight import DEPTH, InFlight
from workers.lifecycle import Backoff, setup_logging, stop_on_signals
from workers.read_ahead import Batch, Entry, decode_batch
from workers.stream_reader import BLOCK_MS, StreamReader
from workers.vote_store import BallotAhead, store_or_split

log = logging.getLogger("fanfare.vote_writer")

BATCH = 500
TRIM_EVERY_SECONDS = 10.0
FORGET_CONSUMER_AFTER_MS = 3_600_000
# Results are purged at the edge at most this often per category, however fast votes arrive.
PURGE_EVERY_SECONDS = 1.0
APPLICATION = "fanfare-vote-writer"
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, psycopg.OperationalError)
MAX_DELIVERIES = 5
DEAD_LETTERS_MAXLEN = 100_000


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
        max_deliveries: int = MAX_DELIVERIES,
        dead_letters_maxlen: int = DEAD_LETTERS_MAXLEN,
        server_check: ServerCheck | None = None,
    ) -> None:
        self.redis = redis_client
        self.conninfo = conninfo
        self.connect_kwargs = dict(connect_kwargs or {})  # prepare_threshold behind PgBouncer
        self.purger = purger
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.forget_consumer_after_ms = FORGET_CONSUMER_AFTER_MS
        self.max_deliveries = max_deliveries
        self.dead_letters_maxlen = dead_letters_maxlen
        self.ahead = BallotAhead(lambda: self._connect(APPLICATION + "-ballot"))
        self.reader = StreamReader(
            redis_client,
            consumer=self.consumer,
            batch=batch,
            claim_idle_ms=claim_idle_ms,
            server_check=server_check or ServerCheck(production=False),
            prepare=self.ahead.prepare,
        )
        self.stopping = False
        self.in_flight = InFlight(DEPTH)
        self._local = threading.local()  # each thread's batch connection
        self._conns: list[psycopg.Connection] = []
        self._lock = threading.Lock()  # _dirty and _conns, shared with the store threads
        self._next_trim = 0.0
        self._dirty: set[int] = set()
        self._last_purge = 0.0

    def run(self) -> None:
        """Loop until stopped; when Redis or PostgreSQL goes away, back off and try again."""
        backoff = Backoff()
        log.info("vote writer %s started", self.consumer)
        while not self.stopping:
            try:
                self.step()
                backoff.reset()
            except Exception as exc:  # never exit: the entries stay pending, and are redone
                delay = backoff.next()
                if isinstance(exc, TRANSIENT):
                    log.warning("%s; retrying in %.1fs", exc.__class__.__name__, delay)
                elif isinstance(exc, RedisUnfit):  # an operator has to fix the server
                    log.error("not writing votes: %s; checking again in %.1fs", exc, delay)
                else:  # a bug or a surprise
                    log.exception("unexpected error; retrying in %.1fs", delay)
                self._reset()
                time.sleep(delay)
        self._finish_read_ahead()
        self.close()

    def step(self) -> int:
        """One read-store-ack round (or a claim round); returns how many entries it handled."""
        try:
            batch, redelivered = self.reader.next_batch()
            if batch.entries and not redelivered:
                self.in_flight.submit(lambda: self.handle(batch))
            else:
                self.in_flight.wait()  # redelivered entries (or none): nothing else in flight
                if batch.entries:
                    self.handle(batch, redelivered=True)
            self._maybe_purge()
            self._maybe_trim()
        except redis.ResponseError as exc:
            # NOGROUP, or a blocked read told the stream is gone: Redis lost its data.
            if "NOGROUP" not in str(exc) and "no longer exists" not in str(exc):
                raise
            self.reader.group_lost()
            return 0
        return len(batch.entries)

    def handle(self, batch: Batch, *, redelivered: bool = False) -> None:
        """Store the batch, then in one MULTI: dead letters, receipt statuses and the XACK.

        Entries delivered too often are taken out and stored one by one (_handle_alone).
        """
        if redelivered:
            overdelivered = self.reader.overdelivered(batch.entries, self.max_deliveries)
            if overdelivered:
                for entry in batch.entries:
                    if entry[0] in overdelivered:
                        self._handle_alone(entry, overdelivered[entry[0]])
                batch = decode_batch([e for e in batch.entries if e[0] not in overdelivered])
                if not batch.entries:
                    return
        started = time.monotonic()
        entries, votes, dead = batch.entries, batch.votes, batch.dead
        # One transaction; if PostgreSQL rejects it, vote by vote (poison aside, to `dead`).
        statuses, changed = store_or_split(self._connection, votes, dead, batch.prepared)
        pipe = self.redis.pipeline(transaction=True)
        unprocessable = stream_upkeep.dead_letter(pipe, dead, maxlen=self.dead_letters_maxlen)
        mark_receipts(pipe, {**statuses, **unprocessable})
        pipe.xack(STREAM, GROUP, *(entry_id for entry_id, _ in entries))
        pipe.execute()
        with self._lock:
            self._dirty |= changed
        metrics.batch_written(
            time.monotonic() - started, entries=len(entries), statuses=statuses, dead=len(dead)
        )

    def _handle_alone(self, entry: Entry, deliveries: int) -> None:
        """An entry that failed too often: store it by itself; dead-letter it if it still fails.

        A failure because PostgreSQL or Redis is away is not the entry's fault: it propagates
        (the entry waits for the next round). Anything else on a working connection is.
        """
        try:
            self.handle(decode_batch([entry]))
            return
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except psycopg.OperationalError:
            if self.conn is None or self.conn.closed or self.conn.broken:
                raise
            error = "refused by PostgreSQL"
        except Exception:
            log.exception("entry %s failed again, alone", stream_upkeep.text(entry[0]))
            error = "could not be stored"
        entry_id, fields = entry
        reason = f"{error} after {deliveries} deliveries"
        pipe = self.redis.pipeline(transaction=True)
        dead = [(entry_id, fields or {}, reason)]
        mark_receipts(pipe, stream_upkeep.dead_letter(pipe, dead, maxlen=self.dead_letters_maxlen))
        pipe.xack(STREAM, GROUP, entry_id)
        pipe.execute()
        metrics.batch_written(0.0, entries=1, statuses={}, dead=1)

    @property
    def conn(self) -> psycopg.Connection | None:
        """This thread's batch connection, if it has one."""
        return getattr(self._local, "conn", None)

    def _connection(self) -> psycopg.Connection:
        conn = self.conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._local.conn = self._connect(APPLICATION)
            with self._lock:
                self._conns = [c for c in self._conns if not c.closed] + [conn]
        return conn

    def _connect(self, name: str) -> psycopg.Connection:
        options = {"autocommit": True, "connect_timeout": 5, **self.connect_kwargs}
        return psycopg.connect(self.conninfo, application_name=name, **options)

    def _maybe_trim(self) -> None:
        """Every few seconds: trim the stream and forget consumers that left nothing behind."""
        if time.monotonic() < self._next_trim:
            return
        self._next_trim = time.monotonic() + TRIM_EVERY_SECONDS
        self.trim()
        self.forget_idle_consumers()

    def trim(self) -> None:
        """Trim the stream below the oldest entry any group has not acked, never further."""
        stream_upkeep.trim(self.redis)

    def forget_idle_consumers(self) -> None:
        """Delete other consumers (restarted writers) with nothing pending, idle for long."""
        stream_upkeep.forget_idle_consumers(
            self.redis, me=self.consumer, after_ms=self.forget_consumer_after_ms
        )

    def _maybe_purge(self) -> None:
        """Purge the results of categories whose tallies changed, at most once a second."""
        due = time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS
        if self._dirty and self.purger and due:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            # Soft: while web is healthy the edge refetches at once (cdn/grace.vcl), so counts are
            # fresh; if web hangs, the last good page and fragment stay servable. A hard purge
            # here left the pages being voted on with nothing to serve (503) when web froze.
            self.purger.purge(keys.counts_changed(dirty), soft=True)
            self._last_purge = time.monotonic()

    def _finish_read_ahead(self) -> None:
        """On a warm stop, store what was read ahead, rather than leave it for XAUTOCLAIM."""
        try:
            self.in_flight.wait()
            if batch := self.reader.take_read_ahead():
                self.handle(batch)
        except (*TRANSIENT, redis.ResponseError) as exc:  # it stays pending, for a writer to claim
            log.warning("%s; left the batch read ahead pending", exc.__class__.__name__)

    def _reset(self) -> None:
        """After a failure: let batches in flight end, re-read own pending (broken: reconnect)."""
        self.in_flight.discard()
        self.reader.reset()

    def close(self) -> None:
        self.in_flight.close()
        self.reader.close()
        self.ahead.close()
        for conn in self._conns:
            conn.close()
        if self.purger is not None:
            self.purger.flush(timeout=5)
        self.redis.close()
        log.info("vote writer %s stopped", self.consumer)


def main() -> None:
    """Entry point for the Procfile: warm stop on the first SIGTERM, cold on the second."""
    setup_logging()
    values = settings.load()
    writer = VoteWriter(
        # socket_timeout must outlast XREADGROUP's BLOCK, or every idle read would time out.
        redis_client=connect.redis_client(
            values, max_connections=4 + DEPTH, socket_timeout=BLOCK_MS / 1000 + 10
        ),
        conninfo=str(values["DATABASE_URL"]),
        connect_kwargs=connect.pg_kwargs(values),
        purger=client_from_settings(values),
        claim_idle_ms=int(values["CLAIM_IDLE_MS"]),  # type: ignore[call-overload]
        batch=int(values["WRITER_BATCH"]),  # type: ignore[call-overload]
        max_deliveries=int(values["WRITER_MAX_DELIVERIES"]),  # type: ignore[call-overload]
        dead_letters_maxlen=int(values["DEAD_LETTERS_MAXLEN"]),  # type: ignore[call-overload]
        server_check=ServerCheck(production=values["ENV"] == "production"),
    )

    metrics.serve(int(values["WRITER_METRICS_PORT"]))  # type: ignore[call-overload]
    stop_on_signals(writer)  # unacked entries are delivered again after a cold stop
    writer.run()


if __name__ == "__main__":
    main()
