"""The vote queue as an operator sees it: entries not yet acked, the oldest one's age, dead letters.

Read from Redis alone (XINFO GROUPS, XPENDING, XRANGE), so it holds whether or not any writer
runs: that is exactly when it matters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from fanfare.votes.stream import DEAD_LETTERS, GROUP, STREAM

# A writer blocks in XREADGROUP for a second at a time; idle longer than this, it is gone.
WRITER_IDLE_SECONDS = 10.0


@dataclass(frozen=True)
class QueueStats:
    """One look at the stream."""

    depth: int  # entries not yet acked: undelivered (lag) plus delivered but pending
    pending: int
    lag_seconds: float  # age of the oldest unacked entry, from its stream id (ms)
    dead_letters: int
    writers: int  # consumers that read within WRITER_IDLE_SECONDS


def _ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _group(client: redis.Redis) -> dict | None:
    try:
        groups = client.xinfo_groups(STREAM)
    except redis.ResponseError:  # no stream yet
        return None
    for group in groups:
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == GROUP:
            return group
    return None


def queue_stats(client: redis.Redis, *, now_ms: int | None = None) -> QueueStats:
    """Depth, pending, writer lag, dead letters and live writers, from Redis."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    group = _group(client)
    dead = int(client.xlen(DEAD_LETTERS))
    if group is None:  # no writer ever started: everything in the stream waits
        length = int(client.xlen(STREAM))
        first = client.xrange(STREAM, count=1) if length else []
        lag = (now_ms - _ms(first[0][0])) / 1000 if first else 0.0
        return QueueStats(length, 0, max(lag, 0.0), dead, 0)
    pending = int(group["pending"])
    # `lag` is None when Redis cannot tell (after deletions); the whole stream bounds it.
    undelivered = group.get("lag")
    undelivered = int(client.xlen(STREAM)) if undelivered is None else int(undelivered)
    oldest: bytes | str | None = None
    if undelivered:
        # The group's `lag` is Redis's own estimate, and after an AOF replay it can stay high
        # for good with every entry delivered (seen in make chaos): nothing after the last
        # delivered id means nothing waits, whatever `lag` says.
        after = client.xrange(STREAM, min=f"({_text(group['last-delivered-id'])}", count=1)
        undelivered = undelivered if after else 0
        oldest = after[0][0] if after else None
    if pending:
        oldest = client.xpending(STREAM, GROUP)["min"]
    lag = (now_ms - _ms(oldest)) / 1000 if oldest is not None else 0.0
    consumers = client.xinfo_consumers(STREAM, GROUP)
    writers = sum(1 for c in consumers if c["idle"] < WRITER_IDLE_SECONDS * 1000)
    return QueueStats(pending + undelivered, pending, max(lag, 0.0), dead, writers)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
