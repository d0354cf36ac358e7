"""One batch of votes into PostgreSQL, in one transaction: each vote stored once, judged again.

The judged batch is COPied (binary) into a session-temporary staging table, then moved into votes
by one set-based statement: INSERT ... ON CONFLICT (vote_id) DO NOTHING, which also charges the
really new valid votes to their voter's quota (voter_usage) and returns each new vote with its
voter's usage. Votes past max_votes_per_voter are marked rejected; the rest are added to tallies.
A redelivered batch therefore changes nothing and reports what was decided the first time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from psycopg.rows import tuple_row

from fanfare.infra import sql
from fanfare.votes.ballot import Ballot, Reason, Verdict, allowed_votes, judge, load_ballot
from fanfare.votes.stream import Vote

Q = sql.queries("votes")
# The staging table's column types, in order, for the binary COPY.
STAGING_TYPES = ["uuid", "int8", "int8", "int8", "text", "text", "timestamptz", "bool", "text"]

Status = tuple[str, str | None]  # ("counted" | "rejected", reason)
Judged = list[tuple[Vote, Verdict]]


def _columns(rows: Iterable[tuple]) -> list[list]:
    """Rows to per-column lists, for unnest()."""
    return [list(column) for column in zip(*rows, strict=True)]


def _status(verdict: Verdict) -> Status:
    return ("counted", None) if verdict.valid else ("rejected", verdict.reason)


def _insert(cur: psycopg.Cursor, judged: Judged) -> dict[uuid.UUID, int | None]:
    """Store every vote once, charging the quota; return the new ids with their voter's usage."""
    cur.execute(Q.create_staging)
    with cur.copy(Q.copy_staging) as copy:
        copy.set_types(STAGING_TYPES)
        for v, j in judged:
            window_id = j.window.id if j.window else v.window_id
            copy.write_row(
                (v.vote_id, v.category_id, v.nominee_id, window_id, v.voter_id, v.ip_hash,
                 v.cast_at, j.reason is None, j.reason)
            )  # fmt: skip
    cur.execute(Q.insert_and_charge)
    return dict(cur.fetchall())


def _decided_before(cur: psycopg.Cursor, vote_ids: list[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """What an earlier transaction decided for redelivered votes."""
    if not vote_ids:
        return {}
    cur.execute(Q.decided_before, (vote_ids,))
    return {vid: ("counted", None) if ok else ("rejected", why) for vid, ok, why in cur}


def _over_quota(
    cur: psycopg.Cursor,
    ballot: Ballot,
    fresh: list[tuple[Vote, int]],
    used: dict[uuid.UUID, int | None],
) -> set[uuid.UUID]:
    """Mark the new valid votes past max_votes_per_voter rejected; return their ids.

    Within a batch a voter's votes are charged in vote_id (= time) order, so the earliest count.
    """
    asked: dict[tuple[int, str], list[Vote]] = defaultdict(list)
    for vote, window_id in sorted(fresh, key=lambda pair: pair[0].vote_id.int):
        asked[(window_id, vote.voter_id)].append(vote)
    over: set[uuid.UUID] = set()
    for mine in asked.values():
        total = used[mine[0].vote_id] or 0  # the voter's usage in the window, this batch included
        quota = ballot.categories[mine[0].category_id].max_votes_per_voter
        over |= {v.vote_id for v in mine[allowed_votes(total - len(mine), len(mine), quota) :]}
    if over:
        cur.execute(Q.reject_votes, (Reason.OVER_QUOTA.value, list(over)))
    return over


def _add_tallies(cur: psycopg.Cursor, counted: list[Vote]) -> None:
    tally: dict[tuple[int, int], int] = defaultdict(int)
    for vote in counted:
        tally[(vote.category_id, vote.nominee_id)] += 1
    if tally:
        cur.execute(Q.add_tallies, _columns((c, n, tally[(c, n)]) for c, n in sorted(tally)))


def store(conn: psycopg.Connection, votes: list[Vote]) -> tuple[dict[uuid.UUID, Status], set[int]]:
    """Write a batch in one transaction; return each vote's status and the categories changed."""
    # A retried XADD can put one vote in a batch twice: judge and charge it once.
    votes = list({vote.vote_id: vote for vote in votes}.values())
    with conn.transaction():
        ballot = load_ballot(conn)
        judged = [(v, judge(ballot, v.category_id, v.nominee_id, v.cast_at)) for v in votes]
        cur = conn.cursor(row_factory=tuple_row)
        used = _insert(cur, judged)
        statuses = {vote.vote_id: _status(verdict) for vote, verdict in judged}
        statuses.update(_decided_before(cur, [vid for vid in statuses if vid not in used]))
        fresh = [(v, j.window.id) for v, j in judged if j.window and v.vote_id in used]
        over = _over_quota(cur, ballot, fresh, used)
        statuses.update({vid: ("rejected", Reason.OVER_QUOTA.value) for vid in over})
        counted = [vote for vote, _ in fresh if vote.vote_id not in over]
        _add_tallies(cur, counted)
    return statuses, {vote.category_id for vote in counted}
