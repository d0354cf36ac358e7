"""The votes stream's housekeeping: trim what every group acked, forget departed consumers, and
dead-letter entries that cannot be stored (capped, their receipts marked)."""

from __future__ import annotations

import logging
import uuid

import redis
from redis.client import Pipeline

from fanfare.votes.stream import DEAD_LETTERS, GROUP, STREAM

log = logging.getLogger("fanfare.vote_writer")
# The receipt's reason for a dead-lettered vote (templates/fragments/receipt_status.html).
UNPROCESSABLE = "unprocessable"


def entry_order(entry_id: bytes | str) -> tuple[int, ...]:
    return tuple(int(part) for part in text(entry_id).split("-"))


def oldest_unacked(r: redis.Redis, group: dict) -> bytes | str:
    """The id below which a group has acked everything, from its XINFO GROUPS row.

    XINFO and XPENDING are two reads: if the group's last pending entry is acked in between,
    XPENDING's `min` is None, and then everything up to last-delivered-id is acked.
    """
    if group["pending"]:
        oldest = r.xpending(STREAM, group["name"])["min"]
        if oldest is not None:
            return oldest
    return group["last-delivered-id"]


def trim(r: redis.Redis, groups: list[dict] | None = None) -> int:
    """Trim the stream below the oldest entry any group has not acked, never further."""
    groups = r.xinfo_groups(STREAM) if groups is None else groups
    floors = [oldest_unacked(r, group) for group in groups]
    if not floors:
        return 0
    floor = min(floors, key=entry_order)
    removed = r.xtrim(STREAM, minid=floor, approximate=False)
    if removed:
        log.info("trimmed %d acked entries below %s", removed, text(floor))
    return removed


def forget_idle_consumers(r: redis.Redis, *, me: str, after_ms: int) -> None:
    """Delete other consumers (restarted writers) with nothing pending, idle for long."""
    for consumer in r.xinfo_consumers(STREAM, GROUP):
        name = text(consumer["name"])
        idle = consumer["idle"] >= after_ms
        if name != me and consumer["pending"] == 0 and idle:
            r.xgroup_delconsumer(STREAM, GROUP, name)


def dead_letter(
    pipe: Pipeline, dead: list[tuple[bytes, dict, str]], *, maxlen: int
) -> dict[uuid.UUID, tuple[str, str]]:
    """Queue each entry onto votes:dead (at most maxlen kept); return the receipt statuses that
    say "not counted" for those with a readable vote id."""
    statuses: dict[uuid.UUID, tuple[str, str]] = {}
    for entry_id, fields, error in dead:
        log.error("dead-lettering entry %s: %s", text(entry_id), error)
        pipe.xadd(
            DEAD_LETTERS,
            {**fields, b"entry": entry_id, b"error": error},
            maxlen=maxlen,
            approximate=False,  # dead letters are rare; an exact cap costs nothing
        )
        try:
            statuses[uuid.UUID(fields.get(b"v", b"").decode())] = ("rejected", UNPROCESSABLE)
        except (ValueError, UnicodeDecodeError):
            pass  # no readable vote id: no receipt to mark
    return statuses


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
