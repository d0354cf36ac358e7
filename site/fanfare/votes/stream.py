"""The votes stream: names, entry encoding, and the quota+XADD script that ingest runs per vote.

Ingest calls `VoteQueue.enqueue`; the script runs through the process's Gatherer (gather.py), so
concurrent votes share one pipeline per flush instead of one round trip each. Each caller still
waits for its own script reply, so a 202 is only ever sent for a vote that Redis has appended to
the stream.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.client import Pipeline

    from fanfare.infra.gather import Gatherer

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
    # Review signals (fraud/signals.py): keyed hashes only, never raw values.
    subnet_hash: str = ""
    ua_hash: str = ""
    new_voter: bool = False  # this vote minted its voter (no known cookie)
    challenge_solved: bool = False  # it came with a solved proof of work or a ripe time lock

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
            "s": self.subnet_hash,
            "a": self.ua_hash,
            "f": "1" if self.new_voter else "0",
            "p": "1" if self.challenge_solved else "0",
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
            # Entries queued before these fields existed decode with the defaults.
            subnet_hash=fields.get(b"s", b"").decode()[:64],
            ua_hash=fields.get(b"a", b"").decode()[:64],
            new_voter=fields.get(b"f") == b"1",
            challenge_solved=fields.get(b"p") == b"1",
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


class VoteQueue:
    """Appends votes to the stream through the quota script, in shared flushes."""

    def __init__(self, gatherer: Gatherer) -> None:
        self.gatherer = gatherer
        self.sha = gatherer.script(ENQUEUE_LUA, hashlib.sha1(ENQUEUE_LUA.encode()).hexdigest())

    def enqueue(self, vote: Vote, *, max_votes: int, quota_ttl: int) -> tuple[bool, str]:
        """Queue a vote unless the voter's quota for its window is used up.

        Returns (True, vote id) once the entry is in the stream, or (False, earlier receipt).
        Raises a redis error when Redis cannot take it: the caller answers 503, never 202.
        """
        vote_id = str(vote.vote_id)
        keys = (STREAM, quota_key(vote.window_id, vote.voter_id), receipt_key(vote_id))
        args = (max_votes, quota_ttl, KEEP_SECONDS, vote_id, vote.category_id, vote.nominee_id)
        flat = [x for pair in vote.fields().items() for x in pair]
        reply = self.gatherer.call("EVALSHA", self.sha, 3, *keys, *args, *flat)
        queued, receipt = reply  # type: ignore[misc]
        return bool(queued), receipt.decode() if isinstance(receipt, bytes) else str(receipt)


# KEYS: receipt hashes. ARGV: per key, its state then its reason ('' for none). Only receipts
# that still exist are marked: ingest made each with its expiry, and a receipt gone from Redis
# is answered from PostgreSQL. One script per batch instead of two commands per vote.
MARK_RECEIPTS_LUA = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local reason = ARGV[2 * i]
    if reason == '' then
      redis.call('HSET', key, 's', ARGV[2 * i - 1])
    else
      redis.call('HSET', key, 's', ARGV[2 * i - 1], 'r', reason)
    end
  end
end
return #KEYS
"""


def mark_receipts(pipe: Pipeline, statuses: dict[uuid.UUID, tuple[str, str | None]]) -> None:
    """Queue, on a pipeline, the marking of each receipt as counted or rejected (with reason)."""
    if not statuses:
        return
    keys = [receipt_key(str(vote_id)) for vote_id in statuses]
    args = [x for state, reason in statuses.values() for x in (state, reason or "")]
    pipe.eval(MARK_RECEIPTS_LUA, len(keys), *keys, *args)
