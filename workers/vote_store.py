"""One batch of votes into PostgreSQL, in one transaction: each vote stored once, judged again.

The batch is judged in Python (prepare(): the shared ballot rules), COPied (binary) into a
session-temporary staging table, then stored by one set-based statement (votes.sql store_staged):
INSERT ... ON CONFLICT (vote_id) DO NOTHING, charging the really new valid votes to their voter's
quota (voter_usage), marking those past max_votes_per_voter rejected (the earliest of a voter's
votes count) and adding the rest to tallies; the COMMIT goes in the same round trip. It answers
only the exceptions: votes stored before (redelivered) and votes past the quota. A redelivered
batch therefore changes nothing and reports what was decided the first time.

The read-ahead thread can prepare the next batch while this one is stored (BallotAhead): the
ballot it judges by is then loaded on a connection of its own just before the batch's
transaction, which READ COMMITTED makes no different in kind from loading it inside.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from fanfare.infra import sql
from fanfare.votes.ballot import Ballot, Reason, load_ballot
from fanfare.votes.ballot import judge as judge_vote
from fanfare.votes.stream import Vote

log = logging.getLogger("fanfare.vote_writer")
Q = sql.queries("votes")

Status = tuple[str, str | None]  # ("counted" | "rejected", reason)
COUNTED: Status = ("counted", None)
OVER_QUOTA: Status = ("rejected", Reason.OVER_QUOTA.value)
# The staging table's columns (votes.sql begin_batch), in order, for the binary COPY; the last
# four: the review signals.
STAGING_TYPES = ["uuid", "int8", "int8", "int8", "text", "text", "timestamptz", "bool", "text",
                 "text", "text", "bool", "bool"]  # fmt: skip


@dataclass
class Prepared:
    """A batch judged: its staging rows, and each vote's status if it is new and in quota."""

    votes: list[Vote]
    rows: list[tuple]
    statuses: dict[uuid.UUID, Status]


def prepare(votes: list[Vote], ballot: Ballot) -> Prepared:
    """Judge every vote by the ballot and lay the batch out as staging rows."""
    # A retried XADD can put one vote in a batch twice: judge and charge it once.
    votes = list({vote.vote_id: vote for vote in votes}.values())
    rows = []
    statuses: dict[uuid.UUID, Status] = {}
    for v in votes:
        verdict = judge_vote(ballot, v.category_id, v.nominee_id, v.cast_at)
        reason = verdict.reason and verdict.reason.value
        window_id = verdict.window.id if verdict.window else v.window_id
        rows.append(
            (v.vote_id, v.category_id, v.nominee_id, window_id, v.voter_id, v.ip_hash,
             v.cast_at, reason is None, reason,
             v.subnet_hash, v.ua_hash, v.new_voter, v.challenge_solved)
        )  # fmt: skip
        statuses[v.vote_id] = COUNTED if reason is None else ("rejected", reason)
    return Prepared(votes, rows, statuses)


def store(
    conn: psycopg.Connection, votes: list[Vote], prepared: Prepared | None = None
) -> tuple[dict[uuid.UUID, Status], set[int]]:
    """Write a batch in one transaction; return each vote's status and the categories changed.

    `prepared`: the same votes judged ahead (BallotAhead); else the ballot is loaded here.
    """
    if prepared is None:
        prepared = prepare(votes, load_ballot(conn))
    cur = conn.cursor(row_factory=tuple_row)
    try:
        cur.execute(Q.begin_batch)
        with cur.copy(Q.copy_staging) as copy:
            copy.set_types(STAGING_TYPES)
            for row in prepared.rows:
                copy.write_row(row)
        cur.execute(Q.store_staged)  # ... and COMMIT
        exceptions = cur.fetchall()
    except BaseException:
        if conn.info.transaction_status != TransactionStatus.IDLE and not conn.broken:
            conn.rollback()
        raise
    statuses = dict(prepared.statuses)
    over = [vote_id for vote_id, past_quota in exceptions if past_quota]
    old = [vote_id for vote_id, past_quota in exceptions if past_quota is None]
    if old:  # committed now, whether by an earlier batch or by a writer we waited for
        cur.execute(Q.decided_before, (old,))
        statuses.update((vid, COUNTED if ok else ("rejected", why)) for vid, ok, why in cur)
    statuses.update((vote_id, OVER_QUOTA) for vote_id in over)
    skip = {*over, *old}
    changed = {
        vote.category_id
        for vote in prepared.votes
        if vote.vote_id not in skip and statuses[vote.vote_id] == COUNTED
    }
    return statuses, changed


def store_or_split(
    connection: Callable[[], psycopg.Connection],
    decoded: list[tuple[bytes, dict, Vote]],
    dead: list[tuple[bytes, dict, str]],
    prepared: Prepared | None = None,
) -> tuple[dict[uuid.UUID, Status], set[int]]:
    """The batch in one transaction; if PostgreSQL rejects it, vote by vote: a vote refused
    alone joins `dead` (entry id, fields, why). PostgreSQL away (OperationalError) propagates:
    the whole batch is retried after a backoff. `connection` is only asked for with votes."""
    if not decoded:
        return {}, set()
    conn = connection()
    try:
        return store(conn, [vote for _, _, vote in decoded], prepared)
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        log.exception("batch refused; storing its %d votes one by one", len(decoded))
    statuses: dict[uuid.UUID, Status] = {}
    changed: set[int] = set()
    for entry_id, fields, vote in decoded:
        try:
            one_status, one_changed = store(conn, [vote])
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            dead.append((entry_id, fields, f"refused by PostgreSQL: {exc}"))
            continue
        statuses.update(one_status)
        changed |= one_changed
    return statuses, changed


class BallotAhead:
    """The ballot for batches prepared in the read-ahead thread, on a connection of its own.

    If PostgreSQL is away the batch goes unprepared: the writer then loads the ballot itself,
    in its batch transaction, and fails (and retries) there as it always has.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection]) -> None:
        self._connect = connect
        self._conn: psycopg.Connection | None = None

    def prepare(self, votes: list[Vote]) -> Prepared | None:
        if not votes:
            return None
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            return prepare(votes, load_ballot(self._conn))
        except psycopg.Error as exc:
            log.debug("ballot not loaded ahead: %s", exc)
            self.close()
            return None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
