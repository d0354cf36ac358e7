"""The votes stream: names, entry encoding, and the one script that ingest runs per vote.

Ingest calls `VoteQueue.enqueue`; enqueue.lua checks the rate limits, the window on Redis's
clock, the fraud gate, the quota and the press key, then XADDs, all in one atomic call. It runs
through the process's Gatherer (gather.py), so concurrent votes share one pipeline per flush.
Each caller still waits for its own reply, so a 202 is only ever sent for a vote that is in the
stream.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from limits import parse_many

from fanfare.fraud.budget import KNOWN, Gate
from fanfare.votes.ballot import Window

if TYPE_CHECKING:
    from collections.abc import Sequence

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
    # To the millisecond. Ingest's clock when built; the stream carries Redis's (enqueue.lua),
    # and the worker judges the rules by that.
    cast_at: datetime
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


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One fixed-window limit on votes, per subject of a scope: `amount` per `seconds`, then
    challenged up to `ceiling`, refused (429) past it. ceiling == amount: a hard limit."""

    scope: str  # "ip", "subnet" or "voter": what the subject id identifies
    amount: int
    seconds: int
    ceiling: int


def parse_limits(scope: str, text: str, *, ceiling_factor: int = 1) -> tuple[RateLimit, ...]:
    """A limits-package string ("60/minute", "5 per minute; 30 per hour") as RateLimits whose
    ceiling is ceiling_factor times their amount (1: hard limits)."""
    return tuple(
        RateLimit(scope, item.amount, item.get_expiry(), item.amount * max(ceiling_factor, 1))
        for item in parse_many(text)
    )


def limit_key(limit: RateLimit, subject: str) -> str:
    """A limit's counter for one subject (a keyed hash of an IP or subnet, or a voter id)."""
    return f"limit:{limit.scope}:{limit.amount}/{limit.seconds}:{subject}"


def press_key(category_id: int, press: str) -> str:
    """One press of the Vote button, made in the browser: its vote, so a resend counts once."""
    return f"press:{category_id}:{press}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the enqueue script did with a vote (enqueue.lua lists the kinds)."""

    kind: str  # queued | again | limited | over_quota | not_open | closed | skew | challenge
    # | replayed
    receipt: str | None = None  # queued, again: the vote's id; over_quota: the latest one
    nominee_id: int | None = None  # queued, again: the nominee the receipt is for
    retry_after: int | None = None  # limited: seconds until the used-up window ends
    limit: RateLimit | None = None  # limited: which one
    skew_ms: int | None = None  # skew: ingest's clock minus Redis's
    redis_ms: int | None = None  # queued: Redis's clock when it took the vote (the cast time)

    @property
    def accepted(self) -> bool:
        """In the stream: queued now, or by an earlier send of the same press."""
        return self.kind in ("queued", "again")


ENQUEUE_LUA = (Path(__file__).with_name("enqueue.lua")).read_text()


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def behind_ms(outcome: Outcome, answered_at: datetime) -> int:
    """How far ingest's clock is behind Redis's at least: Redis's stamp minus ingest's reply time.

    Redis stamped the vote before ingest had its reply, so with agreeing clocks this is <= 0
    whatever the wait; a positive value is the least the ingest clock lags.
    """
    if outcome.redis_ms is None:
        return 0
    return outcome.redis_ms - _ms(answered_at)


class VoteQueue:
    """Appends votes to the stream through the one enqueue script, in shared flushes."""

    def __init__(self, gatherer: Gatherer, *, max_skew_ms: int) -> None:
        self.gatherer = gatherer
        self.max_skew_ms = max_skew_ms
        self.sha = gatherer.script(ENQUEUE_LUA, hashlib.sha1(ENQUEUE_LUA.encode()).hexdigest())

    def enqueue(
        self,
        vote: Vote,
        *,
        press: str,
        window: Window,
        max_votes: int,
        limits: Sequence[tuple[RateLimit, str]],
        gate: Gate = KNOWN,
    ) -> Outcome:
        """Run a vote through the limits, the quota and the window on Redis's clock; queue it.

        `limits` pairs each RateLimit with its subject; past a limit's amount the vote needs a
        solved challenge (`gate`), past its ceiling it is refused. A vote stamped more than
        max_skew_ms ahead of Redis's clock is refused (kind "skew"); behind_ms() judges the
        other way. Raises a redis error when Redis cannot take the vote (down, out of memory):
        the caller answers 503, never 202. `gate` is the fraud gate's part of the vote
        (fraud/budget.py): known, new voter, or a solved challenge.
        """
        vote_id = str(vote.vote_id)
        keys = [
            STREAM,
            quota_key(vote.window_id, vote.voter_id),
            receipt_key(vote_id),
            press_key(vote.category_id, press),
            *(limit_key(limit, subject) for limit, subject in limits),
            *gate.keys,
        ]
        quota_ttl = max(1, (_ms(window.closes_at) - _ms(vote.cast_at)) // 1000) + KEEP_SECONDS
        args = [
            max_votes,
            quota_ttl,
            KEEP_SECONDS,
            vote_id,
            vote.category_id,
            vote.nominee_id,
            _ms(window.opens_at),
            _ms(window.closes_at),
            _ms(vote.cast_at),
            self.max_skew_ms,
            len(limits),
            *(x for limit, _ in limits for x in (limit.amount, limit.ceiling, limit.seconds)),
            gate.mode,
            *gate.args,
            *(x for name, value in vote.fields().items() if name != "t" for x in (name, value)),
        ]
        reply = self.gatherer.call("EVALSHA", self.sha, len(keys), *keys, *args)
        kind, *rest = [_text(x) for x in reply]  # type: ignore[union-attr]
        if kind in ("queued", "again"):
            receipt, nominee = rest[0].split(" ")
            redis_ms = int(rest[1]) if len(rest) > 1 else None
            return Outcome(kind=kind, receipt=receipt, nominee_id=int(nominee), redis_ms=redis_ms)
        if kind == "limited":
            return Outcome(kind=kind, retry_after=int(rest[0]), limit=limits[int(rest[1]) - 1][0])
        if kind == "over_quota":
            return Outcome(kind=kind, receipt=rest[0] or None)
        if kind == "skew":
            return Outcome(kind=kind, skew_ms=int(rest[0]))
        return Outcome(kind=kind)


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
