"""What the vote writer reads next: own pending entries, entries claimed from crashed writers,
then new ones (the next of which is read ahead, in a thread, while the writer stores the current
batch); with the group's lifecycle (created, lost, recreated) and delivery counts."""

from __future__ import annotations

import logging
import time

import redis

from fanfare.infra.redis_checks import ServerCheck
from fanfare.votes.stream import GROUP, STREAM
from workers.read_ahead import Batch, Entry, Prepare, ReadAhead, decode_batch
from workers.stream_upkeep import entry_order

log = logging.getLogger("fanfare.vote_writer")

BLOCK_MS = 1000
CLAIM_EVERY_SECONDS = 5.0


class StreamReader:
    """One consumer's reads from the votes stream's group."""

    def __init__(
        self,
        r: redis.Redis,
        *,
        consumer: str,
        batch: int,
        claim_idle_ms: int,
        server_check: ServerCheck,
        prepare: Prepare | None = None,
    ) -> None:
        self.redis = r
        self.consumer = consumer
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.server_check = server_check
        self.own_pending = True  # first re-read what this consumer was given and never acked
        self.group_ready = False
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._ahead = ReadAhead(self._read_new, prepare)

    def next_batch(self) -> tuple[Batch, bool]:
        """The next batch to handle, and whether it was delivered before (claimed or own
        pending). Raises redis.ResponseError "NOGROUP" when the group is gone (group_lost).

        After a batch of new entries, the next new ones are read ahead while it is stored; never
        after a redelivered batch, whose entries must be handled (and the delivery limit
        checked) before anything newer is taken.
        """
        if not self.group_ready:
            self._ensure_group()
        claimed = self._claim()
        if claimed:
            return decode_batch(claimed), True
        batch = self._ahead.take()
        if batch is None:
            redelivered = self.own_pending
            batch = decode_batch(self._read())
            if redelivered:
                return batch, True
        if batch.entries:
            self._ahead.start()
        return batch, False

    def take_read_ahead(self) -> Batch | None:
        """On a warm stop: the batch read ahead (to store it rather than leave it pending)."""
        return self._ahead.take()

    def reset(self) -> None:
        """After a failure: drop the read ahead and re-read own pending entries (what was read
        ahead is pending, so it is among them); check the server and group again."""
        self._ahead.discard()
        self.own_pending = True
        self.group_ready = False

    def close(self) -> None:
        """Let a read ahead under way finish, and stop its thread."""
        self._ahead.close()

    def group_lost(self) -> None:
        """The group is gone (Redis restarted without its data): recreate it, and say so."""
        log.error(
            "consumer group %s of stream %s is gone: Redis restarted empty or lost its data. "
            "Recreating it; votes queued before that are lost unless Redis keeps an AOF "
            "(their receipts fall back to PostgreSQL).",
            GROUP,
            STREAM,
        )
        self.reset()
        self._claim_cursor = "0-0"
        self._next_claim = 0.0

    def overdelivered(self, entries: list[Entry], limit: int) -> dict[bytes, int]:
        """Entries delivered more than `limit` times (XPENDING's counts), with their counts."""
        ids = {entry_id for entry_id, _ in entries}
        pending = self.redis.xpending_range(
            STREAM,
            GROUP,
            min=min(ids, key=entry_order),
            max=max(ids, key=entry_order),
            count=len(ids) * 2 + 100,
            consumername=self.consumer,
        )
        return {
            p["message_id"]: p["times_delivered"]
            for p in pending
            if p["message_id"] in ids and p["times_delivered"] > limit
        }

    def _ensure_group(self) -> None:
        """Check the server, then create the group at the stream's start (so votes queued
        before any writer existed count)."""
        self.server_check(self.redis, again=True)
        try:
            self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.group_ready = True

    def _read(self) -> list[Entry]:
        """Own pending entries first (after a restart or an error), then new ones with BLOCK."""
        start = "0" if self.own_pending else ">"
        reply = self.redis.xreadgroup(
            GROUP, self.consumer, {STREAM: start}, count=self.batch, block=BLOCK_MS
        )
        entries = reply[0][1] if reply else []
        if self.own_pending and not entries:
            self.own_pending = False
        return entries

    def _read_new(self) -> list[Entry]:
        """New entries without BLOCK, for the read ahead (its thread; no state of ours changes)."""
        reply = self.redis.xreadgroup(GROUP, self.consumer, {STREAM: ">"}, count=self.batch)
        return reply[0][1] if reply else []

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
