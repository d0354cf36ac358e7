"""The signed event feed: the broadcast rundown suspends and reopens rounds. Flask-free.

Each message is JSON {"seq", "round", "action": "suspend"|"reopen", "at"?}, signed with
HMAC-SHA256 over the raw body (header `X-Fanfare-Signature: sha256=<hex>`). Messages apply
strictly in sequence: a duplicate (a seq already applied, same body) is acknowledged and
ignored; a seq ahead of the next one is refused with the seq expected, so the sender resends
the gap. We refuse rather than hold out-of-order messages because a held message would take
effect late, and a suspension that arrives late must still start at its own `at`, which the
sender can only guarantee by resending in order. A seq reused with another body is a conflict.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

import psycopg

from fanfare.infra import sql
from fanfare.predictions import rounds

Q = sql.queries("predictions")

# Any fixed number: feed messages from concurrent requests apply one at a time.
FEED_LOCK = 727_017
ACTIONS = {"suspend": True, "reopen": False}


class Outcome(enum.StrEnum):
    """What became of one message; the web layer maps each to a status code."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    CONFLICT = "conflict"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome, the seq the feed expects next, and the round it changed, if any."""

    outcome: Outcome
    expected: int
    round_id: int | None = None


def signature(secret: str, body: bytes) -> str:
    """The header value a sender puts on a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verified(secret: str, body: bytes, header: str | None) -> bool:
    """Whether the body carries a valid signature; always False without a secret."""
    return bool(secret and header) and hmac.compare_digest(signature(secret, body), header or "")


def apply(conn: psycopg.Connection, body: bytes, now: datetime) -> Result:
    """Apply one verified message in order, in the caller's transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
    ((last,),) = rounds.tuples(conn, Q.feed_last_seq)
    try:
        message = json.loads(body)
        seq, round_id = int(message["seq"]), int(message["round"])
        suspended = ACTIONS[message["action"]]
        at = datetime.fromisoformat(message["at"]) if message.get("at") else now
        if at.tzinfo is None:
            raise ValueError("at needs a UTC offset")
    except (ValueError, KeyError, TypeError):
        return Result(Outcome.INVALID, last + 1)
    digest = hashlib.sha256(body).hexdigest()
    if seq <= last:
        seen = rounds.tuples(conn, Q.feed_seen, (seq,))
        same = seen == [(digest,)]
        return Result(Outcome.DUPLICATE if same else Outcome.CONFLICT, last + 1)
    if seq != last + 1:
        return Result(Outcome.OUT_OF_ORDER, last + 1)
    if not rounds.load(conn, [round_id]):
        return Result(Outcome.INVALID, last + 1)
    rounds.record_change(conn, round_id, at=at, suspended=suspended, source="feed", feed_seq=seq)
    conn.execute(Q.feed_record, (seq, digest))
    return Result(Outcome.APPLIED, seq + 1, round_id)
