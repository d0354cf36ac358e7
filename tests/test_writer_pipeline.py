"""The writer's pipeline: batches judged ahead (vote_store.BallotAhead) and stored two at a time
(in_flight.InFlight)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from test_vote_writer import counted, vote_for

from fanfare.votes.ballot import load_ballot
from workers.in_flight import InFlight
from workers.vote_store import BallotAhead, prepare, store


def test_at_most_depth_run_at_once_and_the_oldest_is_waited_for():
    flight = InFlight(2)
    running, most, lock = [0], [0], threading.Lock()

    def work() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    for _ in range(6):
        flight.submit(work)
    flight.close()
    assert most[0] == 2 and running[0] == 0


def test_an_error_in_flight_is_raised_by_the_next_wait_and_dropped_by_discard():
    flight = InFlight(2)
    go = threading.Event()

    def fail() -> None:
        go.wait(5)
        raise psycopg.OperationalError("away")

    flight.submit(fail)
    flight.submit(lambda: None)
    go.set()
    with pytest.raises(psycopg.OperationalError):
        flight.wait()
    flight.submit(fail)
    time.sleep(0.3)  # it has failed by now
    with pytest.raises(psycopg.OperationalError):
        flight.submit(lambda: None)  # a finished one's error, on the next submit
    flight.submit(fail)
    flight.discard()  # after a failure everything is redone: nothing to raise
    flight.wait()
    flight.close()


def test_a_batch_judged_ahead_is_stored_as_one_judged_in_its_transaction(demo):
    votes = [vote_for(demo, "song-of-the-year", voter="v") for _ in range(4)]  # quota 3
    ahead = BallotAhead(lambda: psycopg.connect(demo, autocommit=True))
    prepared = ahead.prepare(votes)
    ahead.close()
    with psycopg.connect(demo, autocommit=True) as conn:
        assert (
            prepared is not None and prepared.statuses == prepare(votes, load_ballot(conn)).statuses
        )
        statuses, changed = store(conn, votes, prepared)
        again, _ = store(conn, votes)  # redelivered: what was decided the first time
    assert [statuses[v.vote_id] for v in votes] == [("counted", None)] * 3 + [
        ("rejected", "over_quota")
    ]
    assert again == statuses and changed == {votes[0].category_id}
    assert counted(demo) == 3


def test_without_postgres_the_batch_goes_unprepared(demo):
    def refuse() -> psycopg.Connection:
        raise psycopg.OperationalError("connection refused")

    assert BallotAhead(refuse).prepare([vote_for(demo, "breakthrough-artist")]) is None
