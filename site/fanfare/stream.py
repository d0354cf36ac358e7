"""The votes stream: names, entry encoding, the quota+XADD script and the flusher that batches it.

Ingest calls `VoteQueue.enqueue`; concurrent calls are gathered by one flusher thread (a greenlet
under gevent) into a single pipeline of EVALSHAs, so a burst of votes costs one Redis round trip
per flush instead of one per vote. Each caller still waits for its own script reply, so a 202 is
only ever sent for a vote that Redis has appended to the stream.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

STREAM = "votes"
GROUP = "vote-writers"
DEAD_LETTERS = "votes:dead"
# Receipts and quota lists outlive their window by this much, so late lookups still work.
KEEP_SECONDS = 2 * 86400


def quota_key(window_id: int, voter_id: str) -> str:
    """The list of a voter's receipts in one window: its length is the quota used."""
    return f"quota:{window_id}:{voter_id}"


def receipt_key(vote_id: str) -> str:
    """A receipt's status hash: s (queued|counted|rejected), r (reason), c, n."""
    return f"receipt:{vote_id}"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit Unix ms, then 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62
    return uuid.UUID(int=value | rand & (2**62 - 1))


def server_time() -> datetime:
    """Now, to the millisecond: exactly the instant the stream carries and the worker judges."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class DecodeError(ValueError):
    """A stream entry that is not a vote."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """One vote as it travels through the stream."""

    vote_id: uuid.UUID
    category_id: int
    nominee_id: int
    window_id: int
    voter_id: str
    ip_hash: str
    cast_at: datetime  # ingest's clock, to the millisecond: the rules are judged by it

    def fields(self) -> dict[str, str]:
        """The stream entry's fields."""
        return {
            "v": str(self.vote_id),
            "c": str(self.category_id),
            "n": str(self.nominee_id),
            "w": str(self.window_id),
            "u": self.voter_id,
            "h": self.ip_hash,
            "t": str(round(self.cast_at.timestamp() * 1000)),
        }


def _bigint(raw: bytes | None) -> int:
    value = int(raw or b"")  # ValueError for garbage
    if not 0 < value < 2**63:
        raise ValueError(f"id out of range: {value}")
    return value


def decode(fields: dict[bytes, bytes]) -> Vote:
    """A Vote from an entry's raw fields, or DecodeError."""
    try:
        voter = fields[b"u"].decode()
        if not 0 < len(voter) <= 64:
            raise ValueError("bad voter id")
        return Vote(
            vote_id=uuid.UUID(fields[b"v"].decode()),
            category_id=_bigint(fields.get(b"c")),
            nominee_id=_bigint(fields.get(b"n")),
            window_id=_bigint(fields.get(b"w")),
            voter_id=voter,
            ip_hash=fields.get(b"h", b"").decode()[:64],
            cast_at=datetime.fromtimestamp(int(fields[b"t"]) / 1000, UTC),
        )
    except (KeyError, ValueError, UnicodeDecodeError, OverflowError, OSError) as exc:
        raise DecodeError(f"undecodable entry: {exc}") from exc


# KEYS: stream, quota list, receipt. ARGV: max votes, quota ttl, receipt ttl, vote id, category,
# nominee, then the entry's field/value pairs. Returns {1, vote id} when queued, or {0, the
# voter's latest earlier receipt} when over quota. A retried call (redis-py retries commands on
# connection errors) finds its receipt and answers "queued" again without a second XADD.
# The shebang makes Redis refuse the whole script up front when it is out of memory.
ENQUEUE_LUA = """#!lua
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {1, ARGV[4]}
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[1]) then
  return {0, redis.call('LINDEX', KEYS[2], -1)}
end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 7))
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], 's', 'queued', 'c', ARGV[5], 'n', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return {1, ARGV[4]}
"""


class _Waiter:
    """One caller's place in a flush: its arguments, then its reply or error."""

    __slots__ = ("args", "done", "reply", "error")

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.done = threading.Event()
        self.reply: object = None
        self.error: BaseException | None = None


class VoteQueue:
    """Appends votes to the stream through the quota script, many callers per round trip."""

    def __init__(
        self, client: redis.Redis, *, max_batch: int = 500, wait_seconds: float = 10.0
    ) -> None:
        self.client = client
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self.sha: str | None = None  # loaded on the first flush
        self._pending: list[_Waiter] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def enqueue(self, vote: Vote, *, max_votes: int, quota_ttl: int) -> tuple[bool, str]:
        """Queue a vote unless the voter's quota for its window is used up.

        Returns (True, vote id) once the entry is in the stream, or (False, earlier receipt).
        Raises a redis error when Redis cannot take it: the caller answers 503, never 202.
        """
        vote_id = str(vote.vote_id)
        keys = (STREAM, quota_key(vote.window_id, vote.voter_id), receipt_key(vote_id))
        flat = [x for pair in vote.fields().items() for x in pair]
        args = (max_votes, quota_ttl, KEEP_SECONDS, vote_id, vote.category_id, vote.nominee_id)
        waiter = _Waiter((*keys, *args, *flat))
        with self._lock:
            self._pending.append(waiter)
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vote-flusher", daemon=True)
                self._thread.start()
        if not waiter.done.wait(self.wait_seconds):
            raise redis.TimeoutError("the vote queue did not answer in time")
        if waiter.error is not None:
            raise waiter.error
        queued, receipt = waiter.reply  # type: ignore[misc]
        return bool(queued), receipt.decode() if isinstance(receipt, bytes) else str(receipt)

    def _run(self) -> None:
        """Take whatever is pending, flush it as one pipeline, repeat."""
        while True:
            self._wake.wait()
            with self._lock:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                if not self._pending:
                    self._wake.clear()
            if batch:
                self._flush(batch)

    def _flush(self, batch: list[_Waiter]) -> None:
        """One pipeline for the batch; every waiter gets its own reply or error."""
        try:
            if self.sha is None:
                self.sha = self.client.script_load(ENQUEUE_LUA)
            replies = self._evalsha_all(batch)
            if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                # Redis restarted and lost its script cache: load it and retry those votes.
                self.sha = self.client.script_load(ENQUEUE_LUA)
                retry = [w for w, r in zip(batch, replies, strict=True) if _noscript(r)]
                for waiter, reply in zip(retry, self._evalsha_all(retry), strict=True):
                    replies[batch.index(waiter)] = reply
        except Exception as exc:  # every waiter must hear back, whatever went wrong
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

    def _evalsha_all(self, batch: list[_Waiter]) -> list:
        pipe = self.client.pipeline(transaction=False)
        for waiter in batch:
            pipe.evalsha(self.sha, 3, *waiter.args)
        return pipe.execute(raise_on_error=False)


def _noscript(reply: object) -> bool:
    return isinstance(reply, redis.exceptions.NoScriptError)
