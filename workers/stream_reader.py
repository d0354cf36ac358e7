"""What the vote writer reads next: own pending entries, entries claimed from crashed writers,
then new ones; with the group's lifecycle (created, lost, recreated) and delivery counts."""

from __future__ import annotations

import logging
import time

import redis

from fanfare.infra.redis_checks import ServerCheck
from fanfare.votes.stream import GROUP, STREAM
from workers.stream_upkeep import entry_order

Entry = tuple[bytes, dict[bytes, bytes] | None]

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

    def next_batch(self) -> tuple[list[Entry], bool]:
        """The next entries to handle, and whether they were delivered before (claimed or own
        pending). Raises redis.ResponseError "NOGROUP" when the group is gone (group_lost)."""
        if not self.group_ready:
            self._ensure_group()
        entries = self._claim()
        if entries:
            return entries, True
        redelivered = self.own_pending
        return self._read(), redelivered

    def reset(self) -> None:
        """After a failure: re-read own pending entries; check the server and group again."""
        self.own_pending = True
        self.group_ready = False

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
