"""The shared ballot rules and the vote id, as ingest and the worker both use them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fanfare.votes.ballot import Ballot, Reason, Rules, Window, allowed_votes, judge
from fanfare.votes.stream import uuid7

T0 = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
BALLOT = Ballot(
    {
        1: Rules(
            1,
            "best",
            "Best",
            2,
            (
                Window(10, T0, T0 + timedelta(minutes=10)),
                Window(11, T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
            ),
            {5: "Ada"},
        ),
        2: Rules(2, "none", "No window", 1, (), {6: "Bo"}),
    }
)


def test_a_window_is_open_from_its_first_instant_to_just_before_its_close():
    assert judge(BALLOT, 1, 5, T0).window == BALLOT.categories[1].windows[0]
    last = T0 + timedelta(minutes=10) - timedelta(milliseconds=1)
    assert judge(BALLOT, 1, 5, last).valid
    assert judge(BALLOT, 1, 5, T0 + timedelta(minutes=10)).reason is Reason.NOT_OPEN  # round 2
    assert judge(BALLOT, 1, 5, T0 + timedelta(hours=1, minutes=5)).window.id == 11
    assert judge(BALLOT, 1, 5, T0 + timedelta(hours=2)).reason is Reason.CLOSED
    assert judge(BALLOT, 1, 5, T0 - timedelta(seconds=1)).reason is Reason.NOT_OPEN


def test_unknown_category_nominee_and_windowless_category():
    assert judge(BALLOT, 9, 5, T0).reason is Reason.UNKNOWN_CATEGORY
    assert judge(BALLOT, 1, 6, T0).reason is Reason.UNKNOWN_NOMINEE
    assert judge(BALLOT, 2, 6, T0).reason is Reason.NOT_OPEN


def test_allowed_votes_never_exceeds_the_quota():
    assert allowed_votes(used=0, asked=5, max_votes=2) == 2
    assert allowed_votes(used=1, asked=5, max_votes=2) == 1
    assert allowed_votes(used=3, asked=1, max_votes=2) == 0


def test_vote_ids_are_version_7_and_time_ordered():
    ids = [uuid7() for _ in range(1000)]
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    assert len(set(ids)) == 1000
    # Ordered across milliseconds (within one millisecond the random bits decide).
    first, later = ids[0], uuid7()
    assert later.int >> 80 >= first.int >> 80
