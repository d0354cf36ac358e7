"""One batch of votes into PostgreSQL, in one transaction: each vote stored once, judged again.

The votes are inserted ON CONFLICT (vote_id) DO NOTHING; only the really new ones are re-judged
by the shared ballot rules at their ingest timestamp, charged to the voter's quota (voter_usage)
and added to tallies. A redelivered batch therefore changes nothing and reports what was decided
the first time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from psycopg.rows import tuple_row

from fanfare.votes.ballot import Ballot, Reason, Verdict, allowed_votes, judge, load_ballot
from fanfare.votes.stream import Vote

INSERT_VOTES = """
INSERT INTO votes (vote_id, category_id, nominee_id, window_id, voter_id, ip_hash, cast_at,
                   counted, reject_reason,
                   subnet_hash, ua_hash, new_voter, challenge_solved)
SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
                     %s::text[], %s::timestamptz[], %s::boolean[], %s::text[],
                     %s::text[], %s::text[], %s::boolean[], %s::boolean[])
ON CONFLICT (vote_id) DO NOTHING
RETURNING vote_id
"""
# Sorted, so concurrent writers lock usage and tally rows in the same order (no deadlocks).
USE_QUOTA = """
INSERT INTO voter_usage (window_id, voter_id, used)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::int[]) ORDER BY 1, 2
ON CONFLICT (window_id, voter_id) DO UPDATE SET used = voter_usage.used + EXCLUDED.used
RETURNING window_id, voter_id, used
"""
ADD_TALLIES = """
INSERT INTO tallies (category_id, nominee_id, votes)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) ORDER BY 1, 2
ON CONFLICT (category_id, nominee_id)
DO UPDATE SET votes = tallies.votes + EXCLUDED.votes, updated_at = now()
"""

Status = tuple[str, str | None]  # ("counted" | "rejected", reason)


def _columns(rows: Iterable[tuple]) -> list[list]:
    """Rows to per-column lists, for unnest()."""
    return [list(column) for column in zip(*rows, strict=True)]


def _status(verdict: Verdict) -> Status:
    return ("counted", None) if verdict.valid else ("rejected", verdict.reason)


def _insert(cur: psycopg.Cursor, judged: list[tuple[Vote, Verdict]]) -> set[uuid.UUID]:
    """Insert every vote once; return the ids that were really new."""
    rows = [
        (v.vote_id, v.category_id, v.nominee_id, j.window.id if j.window else v.window_id,
         v.voter_id, v.ip_hash, v.cast_at, j.valid, j.reason,
         v.subnet_hash, v.ua_hash, v.new_voter, v.challenge_solved)
        for v, j in judged
    ]  # fmt: skip
    cur.execute(INSERT_VOTES, _columns(rows))
    return {row[0] for row in cur.fetchall()}


def _decided_before(cur: psycopg.Cursor, vote_ids: list[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """What an earlier transaction decided for redelivered votes."""
    if not vote_ids:
        return {}
    cur.execute(
        "SELECT vote_id, counted, reject_reason FROM votes WHERE vote_id = ANY(%s)", (vote_ids,)
    )
    return {vid: ("counted", None) if ok else ("rejected", why) for vid, ok, why in cur}


def _over_quota(cur: psycopg.Cursor, ballot: Ballot, fresh: list[tuple[Vote, int]]) -> set:
    """Charge new valid votes to voter_usage; return the ids past max_votes_per_voter.

    Within a batch a voter's votes are charged in vote_id (= time) order, so the earliest count.
    """
    asked: dict[tuple[int, str], list[Vote]] = defaultdict(list)
    for vote, window_id in sorted(fresh, key=lambda pair: pair[0].vote_id.int):
        asked[(window_id, vote.voter_id)].append(vote)
    if not asked:
        return set()
    keys = sorted(asked)
    cur.execute(USE_QUOTA, _columns((w, voter, len(asked[(w, voter)])) for w, voter in keys))
    over = set()
    for window_id, voter_id, used in cur.fetchall():
        mine = asked[(window_id, voter_id)]
        quota = ballot.categories[mine[0].category_id].max_votes_per_voter
        over |= {v.vote_id for v in mine[allowed_votes(used - len(mine), len(mine), quota) :]}
    if over:
        cur.execute(
            "UPDATE votes SET counted = false, reject_reason = %s WHERE vote_id = ANY(%s)",
            (Reason.OVER_QUOTA.value, list(over)),
        )
    return over


def _add_tallies(cur: psycopg.Cursor, counted: list[Vote]) -> None:
    tally: dict[tuple[int, int], int] = defaultdict(int)
    for vote in counted:
        tally[(vote.category_id, vote.nominee_id)] += 1
    if tally:
        cur.execute(ADD_TALLIES, _columns((c, n, tally[(c, n)]) for c, n in sorted(tally)))


def store(conn: psycopg.Connection, votes: list[Vote]) -> tuple[dict[uuid.UUID, Status], set[int]]:
    """Write a batch in one transaction; return each vote's status and the categories changed."""
    # A retried XADD can put one vote in a batch twice: judge and charge it once.
    votes = list({vote.vote_id: vote for vote in votes}.values())
    with conn.transaction():
        ballot = load_ballot(conn)
        judged = [(v, judge(ballot, v.category_id, v.nominee_id, v.cast_at)) for v in votes]
        cur = conn.cursor(row_factory=tuple_row)
        new = _insert(cur, judged)
        statuses = {vote.vote_id: _status(verdict) for vote, verdict in judged}
        statuses.update(_decided_before(cur, [vid for vid in statuses if vid not in new]))
        fresh = [(v, j.window.id) for v, j in judged if j.window and v.vote_id in new]
        over = _over_quota(cur, ballot, fresh)
        statuses.update({vid: ("rejected", Reason.OVER_QUOTA.value) for vid in over})
        counted = [vote for vote, _ in fresh if vote.vote_id not in over]
        _add_tallies(cur, counted)
    return statuses, {vote.category_id for vote in counted}
