"""Velocity flags: bursts per nominee per IP, subnet and User-Agent hash, and the new-voter rate.

Runs in the scheduler every DETECT_EVERY_SECONDS, as one set-based statement over the votes of
the current and previous time bucket (DETECT_WINDOW_SECONDS wide). Why there and not in the vote
writer: the writer's transaction is the hot path of exactly-once counting and must stay short;
one GROUP BY over a minute of votes on an index is cheap, sees every writer's votes together,
and a failing detector never holds up a count. A flag is upserted, so it is written the tick
its count trips the threshold and its evidence (count, first/last vote, a sample) keeps up as the
burst grows. Flagged IPs and subnets lose their new-voter budget for SUSPECT_SECONDS.
Flask-free: workers import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg
import redis
from psycopg.rows import tuple_row

from fanfare.fraud.budget import mark_suspect

log = logging.getLogger(__name__)
SAMPLE = 10  # votes kept as evidence per flag

# One branch per kind: the signal column, whether it is per nominee, and its threshold.
_BRANCH = """
  SELECT '{kind}' AS kind, {column} AS subject, category_id, {nominee} AS nominee_id, bucket,
         count(*) AS n, min(cast_at) AS first_at, max(cast_at) AS last_at,
         (array_agg(vote_id ORDER BY cast_at))[1:{sample}] AS sample, %({kind})s AS threshold
  FROM recent WHERE {column} <> '' {extra}
  GROUP BY 2, 3, 4, 5 HAVING count(*) >= %({kind})s
"""
_BRANCHES = [
    ("ip", "ip_hash", "nominee_id", ""),
    ("subnet", "subnet_hash", "nominee_id", ""),
    ("ua", "ua_hash", "nominee_id", ""),
    ("new_voters", "subnet_hash", "0", "AND new_voter"),
]
DETECT = (
    """
WITH recent AS (
  SELECT vote_id, category_id, nominee_id, ip_hash, subnet_hash, ua_hash, new_voter, cast_at,
         date_bin(make_interval(secs => %(window)s), cast_at, TIMESTAMPTZ 'epoch') AS bucket
  FROM votes
  WHERE cast_at >= date_bin(make_interval(secs => %(window)s), %(now)s, TIMESTAMPTZ 'epoch')
                   - make_interval(secs => %(window)s)
    AND invalidation_id IS NULL
), bursts AS ("""
    + "  UNION ALL".join(
        _BRANCH.format(kind=k, column=c, nominee=n, extra=e, sample=SAMPLE)
        for k, c, n, e in _BRANCHES
    )
    + """)
INSERT INTO fraud_flags (kind, subject, category_id, nominee_id, bucket_start, window_seconds,
                         vote_count, threshold, first_vote_at, last_vote_at, sample_vote_ids)
SELECT kind, subject, category_id, nominee_id, bucket, %(window)s, n, threshold, first_at,
       last_at, sample
FROM bursts
ON CONFLICT (kind, subject, category_id, nominee_id, bucket_start) DO UPDATE
SET vote_count = EXCLUDED.vote_count, last_vote_at = EXCLUDED.last_vote_at,
    sample_vote_ids = EXCLUDED.sample_vote_ids, updated_at = now()
WHERE fraud_flags.vote_count <> EXCLUDED.vote_count
RETURNING id, kind, subject, (xmax = 0) AS tripped
"""
)
# Which suspect key (budget.py) each kind of flag sets.
SUSPECT_KIND = {"ip": "ip", "subnet": "subnet", "new_voters": "subnet"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The detection settings."""

    window_seconds: int
    per_ip: int
    per_subnet: int
    per_ua: int
    new_voters_per_subnet: int
    suspect_seconds: int

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> Thresholds:
        """The thresholds from settings.load()."""
        number = {name: int(str(values[name])) for name in values if name.startswith("DETECT_")}
        return cls(
            window_seconds=number["DETECT_WINDOW_SECONDS"],
            per_ip=number["DETECT_PER_IP"],
            per_subnet=number["DETECT_PER_SUBNET"],
            per_ua=number["DETECT_PER_UA"],
            new_voters_per_subnet=number["DETECT_NEW_VOTERS_PER_SUBNET"],
            suspect_seconds=int(str(values["SUSPECT_SECONDS"])),
        )


def detect(conn: psycopg.Connection, now: datetime, limits: Thresholds) -> list[tuple]:
    """Upsert the flags the recent votes trip; return (id, kind, subject, newly tripped)."""
    params = {
        "window": limits.window_seconds,
        "now": now,
        "ip": limits.per_ip,
        "subnet": limits.per_subnet,
        "ua": limits.per_ua,
        "new_voters": limits.new_voters_per_subnet,
    }
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(DETECT, params).fetchall()


def challenge_flagged(client: redis.Redis, flags: list[tuple], seconds: int) -> None:
    """Flagged IPs and subnets mint no new voter unchallenged for a while."""
    for kind in ("ip", "subnet"):
        subjects = {f[2] for f in flags if SUSPECT_KIND.get(f[1]) == kind}
        mark_suspect(client, kind, subjects, seconds)


def job(
    values: Mapping[str, object], client: redis.Redis
) -> Callable[[psycopg.Connection, datetime, datetime], set[str]]:
    """The scheduler job: detect every DETECT_EVERY_SECONDS; it purges nothing."""
    limits = Thresholds.from_settings(values)
    every = float(str(values["DETECT_EVERY_SECONDS"]))

    def run(conn: psycopg.Connection, since: datetime, now: datetime) -> set[str]:
        if int(since.timestamp() / every) == int(now.timestamp() / every):
            return set()
        flags = detect(conn, now, limits)
        tripped = [f for f in flags if f[3]]
        if tripped:
            log.warning("fraud flags tripped: %s", ", ".join(f"{f[1]}#{f[0]}" for f in tripped))
        try:
            challenge_flagged(client, flags, limits.suspect_seconds)
        except redis.RedisError as exc:
            log.warning("could not mark flagged networks as suspect: %r", exc)
        return set()

    return run
