"""The prediction path in Redis: the cached round state, the pending predictions, persistence.

Like a vote, a prediction is judged against cached state and queued in Redis; no PostgreSQL
write on the request path. Each round has a hash of pending predictions keyed by fan, so a
change before the lock overwrites the earlier one. The scheduler's job moves them into
PostgreSQL, judging them again there by their server timestamps (the source of truth), and
drops a Redis entry only once PostgreSQL durably holds it (or it was refused), so a crash
between the two loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal

import psycopg
import redis

from fanfare.infra import sql
from fanfare.infra.gather import Gatherer
from fanfare.predictions import rounds
from fanfare.predictions.rules import Choice, Round

Q = sql.queries("predictions")

DIRTY = "fanfare:predictions:dirty"
# Set by the web app when the board's rows changed without a prediction (an account deleted).
LEADERBOARD_STALE = "fanfare:leaderboard:stale"
# How stale one cached round may be when nothing announced a change (changes write through).
ROUND_CACHE_SECONDS = 2
CHUNK = 5000

# Delete fields whose value is still the one persisted; forget the round once its hash is empty.
FORGET = """
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""

# Queue (or replace) one fan's prediction and mark the round for the persisting job.
SUBMIT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""


def pending_key(round_id: int) -> str:
    """The hash of a round's predictions not yet in PostgreSQL, field = fan id."""
    return f"fanfare:predictions:{round_id}"


def round_cache_key(round_id: int) -> str:
    """The cached judging state of one round."""
    return f"fanfare:round:{round_id}"


def _encode_round(r: Round) -> str:
    return json.dumps(
        {
            "kind": r.kind,
            "options": list(r.option_ids),
            "locks_at": r.locks_at.isoformat() if r.locks_at else None,
            "changes": [[at.isoformat(), s] for at, s in r.changes],
        }
    )


def _decode_round(round_id: int, raw: bytes) -> Round:
    data = json.loads(raw)
    return Round(
        id=round_id,
        kind=data["kind"],
        option_ids=tuple(data["options"]),
        locks_at=datetime.fromisoformat(data["locks_at"]) if data["locks_at"] else None,
        changes=tuple((datetime.fromisoformat(at), s) for at, s in data["changes"]),
    )


def cache_rounds(r: redis.Redis, found: dict[int, Round]) -> None:
    """Write rounds' judging state through to Redis (after a change has COMMITted)."""
    pipe = r.pipeline(transaction=False)
    for rid, round_ in found.items():
        pipe.set(round_cache_key(rid), _encode_round(round_), ex=ROUND_CACHE_SECONDS)
    pipe.execute()


def cached_round(
    r: redis.Redis, round_id: int, conn_factory, raw: bytes | None = None
) -> Round | None:
    """A round's judging state from Redis (or `raw`, already read from it), else PostgreSQL."""
    raw = raw if raw is not None else r.get(round_cache_key(round_id))
    if raw is not None:
        return _decode_round(round_id, raw)
    with conn_factory() as conn:
        found = rounds.load(conn, [round_id])
    cache_rounds(r, found)
    return found.get(round_id)


def encode(choice: Choice, at: datetime) -> str:
    """A pending prediction as stored in the round's hash."""
    number = str(choice.number) if choice.number is not None else None
    return json.dumps({"o": list(choice.option_ids), "n": number, "at": at.isoformat()})


class PredictionQueue:
    """The request path's Redis work, through the process's Gatherer: concurrent predictions
    share one pipeline per flush, as votes do (votes/stream.py)."""

    def __init__(self, gatherer: Gatherer) -> None:
        self.gatherer = gatherer
        self.sha = gatherer.script(SUBMIT, hashlib.sha1(SUBMIT.encode()).hexdigest())

    def lookup(self, session_key: str, round_id: int) -> tuple[bytes | None, bytes | None]:
        """The session's value and the cached round, in one command."""
        found = self.gatherer.call("MGET", session_key, round_cache_key(round_id))
        return found[0], found[1]  # type: ignore[index]

    def submit(self, round_id: int, fan_id: int, choice: Choice, at: datetime) -> None:
        """Queue (or replace) a fan's prediction; returns once Redis has it."""
        keys = (pending_key(round_id), DIRTY)
        self.gatherer.call("EVALSHA", self.sha, 2, *keys, fan_id, encode(choice, at), round_id)


def submit(r: redis.Redis, round_id: int, fan_id: int, choice: Choice, at: datetime) -> None:
    """Queue (or replace) a fan's prediction without a Gatherer (tools and benchmarks)."""
    pipe = r.pipeline(transaction=True)
    pipe.hset(pending_key(round_id), str(fan_id), encode(choice, at))
    pipe.sadd(DIRTY, round_id)
    pipe.execute()


def pending(r: redis.Redis, round_id: int, fan_id: int) -> Choice | None:
    """A fan's prediction still waiting in Redis, if any."""
    raw = r.hget(pending_key(round_id), str(fan_id))
    if raw is None:
        return None
    data = json.loads(raw)
    number = Decimal(data["n"]) if data["n"] is not None else None
    return Choice(option_ids=tuple(data["o"]), number=number)


def persist(conn: psycopg.Connection, r: redis.Redis, round_ids: list[int] | None = None) -> int:
    """Move pending predictions into PostgreSQL (in the caller's transaction); return the count.

    Entries PostgreSQL already holds from an earlier, committed call are forgotten in Redis;
    the rest are upserted now and forgotten on the next call, after this transaction commits.
    """
    forget = r.register_script(FORGET)
    ids = round_ids if round_ids is not None else sorted(int(v) for v in r.smembers(DIRTY))
    written = 0
    for round_id in ids:
        entries = {int(k): v.decode() for k, v in r.hgetall(pending_key(round_id)).items()}
        durable = dict(rounds.tuples(conn, Q.durable_predictions, (round_id, list(entries))))
        done, rows, raws = [], [], {}
        for fan_id, raw in entries.items():
            data = json.loads(raw)
            at = datetime.fromisoformat(data["at"])
            if fan_id in durable and durable[fan_id] >= at:
                done += [str(fan_id), raw]
            else:
                raws[fan_id] = raw
                rows.append({"fan_id": fan_id, "option_ids": data["o"] or None,
                             "number": data["n"], "at": data["at"]})  # fmt: skip
        for start in range(0, len(rows), CHUNK):
            chunk = {"round": round_id, "rows": json.dumps(rows[start : start + CHUNK])}
            for (fan_id,) in rounds.tuples(conn, Q.upsert_pending, chunk):
                raws.pop(fan_id)
                written += 1
        # Refused by the rules at their own time (a suspension recorded late, a fan since
        # deleted): nothing to write, so nothing to wait for.
        for fan_id, raw in raws.items():
            done += [str(fan_id), raw]
        for start in range(0, len(done), 2 * CHUNK):
            forget(
                keys=[pending_key(round_id), DIRTY],
                args=[round_id, *done[start : start + 2 * CHUNK]],
            )
        if not entries:
            forget(keys=[pending_key(round_id), DIRTY], args=[round_id])
    return written
