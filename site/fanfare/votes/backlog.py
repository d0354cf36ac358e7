"""Is any vote cast before a moment still waiting in the stream? The "counted up to" check.

A vote is stored once the writer's transaction has COMMITted, and only then XACKed; so every
vote cast before a close is in PostgreSQL exactly when the stream holds no unacked entry cast
before it. Unacked means pending (delivered to some writer, or claimed by another with
XAUTOCLAIM: still in the group's pending list) or not yet delivered (after the group's
last-delivered-id). Entry ids are Redis's clock at XADD, which comes after the vote's cast time
(field t, ingest's clock); so only entries up to `IN_FLIGHT_MS` past the moment need their t
read, however long the backlog. Framework-free: the scheduler runs it.
"""

from __future__ import annotations

from datetime import datetime

import redis

from fanfare.votes.stream import GROUP, STREAM

# How long after its cast time a vote may still reach the stream: ingest answers within about a
# second or refuses; the rest is clock skew between ingest hosts and Redis.
IN_FLIGHT_MS = 3000
PAGE = 200


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _id_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def _cast_before(fields: dict[bytes, bytes] | None, moment_ms: int) -> bool:
    """Whether an entry is a vote cast before the moment (an undecodable one counts as such:
    the writer dead-letters and acks it, and it must not be skipped before then)."""
    try:
        return int((fields or {}).get(b"t", b"")) < moment_ms
    except ValueError:
        return True


def _pending_before(client: redis.Redis, moment_ms: int, horizon: int) -> bool:
    start = "-"
    while True:
        rows = client.xpending_range(STREAM, GROUP, min=start, max=str(horizon), count=PAGE)
        if not rows:
            return False
        pipe = client.pipeline(transaction=False)
        for row in rows:
            pipe.xrange(STREAM, min=row["message_id"], max=row["message_id"])
        for found in pipe.execute():
            # An entry deleted while pending has no fields: it is acked without being stored.
            if found and _cast_before(found[0][1], moment_ms):
                return True
        if len(rows) < PAGE:
            return False
        start = "(" + _text(rows[-1]["message_id"])


def _undelivered_before(client: redis.Redis, after: str, moment_ms: int, horizon: int) -> bool:
    start = "(" + after if after != "0-0" else "-"
    while True:
        entries = client.xrange(STREAM, min=start, max=str(horizon), count=PAGE)
        if any(_cast_before(fields, moment_ms) for _, fields in entries):
            return True
        if len(entries) < PAGE:
            return False
        start = "(" + _text(entries[-1][0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def unacked_before(client: redis.Redis, moment: datetime) -> bool:
    """True while the stream still holds an unacked vote cast before `moment`."""
    moment_ms = _ms(moment)
    horizon = moment_ms + IN_FLIGHT_MS
    if not client.exists(STREAM):
        return False
    groups = {_text(g["name"]): g for g in client.xinfo_groups(STREAM)}
    group = groups.get(GROUP)
    if group is None:  # no writer has read yet: everything is undelivered
        return _undelivered_before(client, "0-0", moment_ms, horizon)
    if group["pending"] and _pending_before(client, moment_ms, horizon):
        return True
    last = _text(group["last-delivered-id"])
    if _id_ms(last) > horizon:
        return False  # delivery has passed every entry that could be from before the moment
    return _undelivered_before(client, last, moment_ms, horizon)
