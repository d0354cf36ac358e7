"""Migrations 0070 and 0071, for the vote writer's insert: the unused index on votes is gone and
windows answer "has votes" through voter_usage (publishing.sql window_has_votes), charged by the
writer for every vote valid in a window; voter_usage's window is checked once per statement."""

from __future__ import annotations

import psycopg
import pytest
from test_vote_writer import ballot_ids, vote_for

from fanfare.content.drafts import PublishError
from fanfare.content.publishing import _apply_windows
from fanfare.votes.ballot import load_ballot
from workers.vote_store import prepare, store


def test_migration_0070_applies_and_drops_the_unused_index(demo):
    with psycopg.connect(demo) as conn:
        applied = conn.execute("SELECT name FROM schema_migrations").fetchall()
        index = conn.execute("SELECT to_regclass('votes_voter_window')").fetchone()[0]
    assert ("0070_writer_indexes.sql",) in applied
    assert index is None


def _keep_none(conn: psycopg.Connection, category_id: int) -> None:
    """Publish the category's windows as none at all (each current window removed)."""
    with conn.transaction():
        _apply_windows(conn, category_id, [])


def test_a_window_with_a_stored_vote_cannot_be_removed(demo):
    category, window, _ = ballot_ids(demo, "breakthrough-artist")
    with psycopg.connect(demo, autocommit=True) as conn:
        store(conn, [vote_for(demo, "breakthrough-artist")])
        with pytest.raises(PublishError, match="already has votes"):
            _keep_none(conn, category)
        left = conn.execute("SELECT count(*) FROM voting_windows WHERE id = %s", (window,))
        assert left.fetchone()[0] == 1


def test_a_window_without_votes_can_be_removed(demo):
    category, window, _ = ballot_ids(demo, "breakthrough-artist")
    with psycopg.connect(demo, autocommit=True) as conn:
        _keep_none(conn, category)
        left = conn.execute("SELECT count(*) FROM voting_windows WHERE id = %s", (window,))
        assert left.fetchone()[0] == 0


def test_over_the_quota_a_vote_still_holds_its_window(demo):
    # song-of-the-year allows 3 votes a voter: the 4th is rejected, but charged to the window.
    category, window, _ = ballot_ids(demo, "song-of-the-year")
    votes = [vote_for(demo, "song-of-the-year", voter="same") for _ in range(4)]
    with psycopg.connect(demo, autocommit=True) as conn:
        statuses, _ = store(conn, votes)
        used = conn.execute(
            "SELECT used FROM voter_usage WHERE window_id = %s AND voter_id = 'same'", (window,)
        ).fetchone()[0]
        with pytest.raises(PublishError):
            _keep_none(conn, category)
    assert [statuses[v.vote_id][0] for v in votes] == ["counted"] * 3 + ["rejected"]
    assert used == 4


# Migration 0071: voter_usage's window checked once per statement, not by a row-by-row FK.


def test_a_vote_for_a_window_deleted_after_judging_refuses_the_batch(demo):
    category, window, _ = ballot_ids(demo, "breakthrough-artist")
    vote = vote_for(demo, "breakthrough-artist")
    with psycopg.connect(demo, autocommit=True) as conn:
        prepared = prepare([vote], load_ballot(conn))  # judged while the window was there
        conn.execute("DELETE FROM voting_windows WHERE id = %s", (window,))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            store(conn, [vote], prepared)
        assert (
            conn.execute(
                "SELECT count(*) FROM votes WHERE vote_id = %s", (vote.vote_id,)
            ).fetchone()[0]
            == 0
        )


def test_a_deleted_window_takes_its_usage_rows_with_it(demo):
    category, window, _ = ballot_ids(demo, "breakthrough-artist")
    with psycopg.connect(demo, autocommit=True) as conn:
        store(conn, [vote_for(demo, "breakthrough-artist", voter=f"v{i}") for i in range(3)])
        conn.execute("DELETE FROM voting_windows WHERE id = %s", (window,))
        left = conn.execute("SELECT count(*) FROM voter_usage WHERE window_id = %s", (window,))
        assert left.fetchone()[0] == 0


def test_a_category_deleted_takes_its_windows_usage_with_it(demo):
    category, window, _ = ballot_ids(demo, "breakthrough-artist")
    with psycopg.connect(demo, autocommit=True) as conn:
        store(conn, [vote_for(demo, "breakthrough-artist")])
        conn.execute("DELETE FROM tallies WHERE category_id = %s", (category,))
        conn.execute("DELETE FROM categories WHERE id = %s", (category,))
        left = conn.execute("SELECT count(*) FROM voter_usage WHERE window_id = %s", (window,))
        assert left.fetchone()[0] == 0


def test_a_window_being_charged_cannot_be_deleted_until_the_batch_ends(demo):
    _, window, _ = ballot_ids(demo, "breakthrough-artist")
    with psycopg.connect(demo) as charging, psycopg.connect(demo) as deleting:
        charging.execute(
            "INSERT INTO voter_usage (window_id, voter_id, used) VALUES (%s, 'x', 1)", (window,)
        )
        deleting.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            deleting.execute("DELETE FROM voting_windows WHERE id = %s", (window,))
        deleting.rollback()
        charging.commit()
        deleting.execute("DELETE FROM voting_windows WHERE id = %s", (window,))
        deleting.commit()
        left = charging.execute("SELECT count(*) FROM voter_usage WHERE window_id = %s", (window,))
        assert left.fetchone()[0] == 0
