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
from fanfare.infra import sql

log = logging.getLogger(__name__)
Q = sql.queries("fraud")  # detect keeps a sample of 10 votes per flag as evidence
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

        def number(name: str) -> int:
            return int(str(values[name]))

        return cls(
            window_seconds=number("DETECT_WINDOW_SECONDS"),
            per_ip=number("DETECT_PER_IP"),
            per_subnet=number("DETECT_PER_SUBNET"),
            per_ua=number("DETECT_PER_UA"),
            new_voters_per_subnet=number("DETECT_NEW_VOTERS_PER_SUBNET"),
            suspect_seconds=number("SUSPECT_SECONDS"),
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
        return cur.execute(Q.detect, params).fetchall()


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
