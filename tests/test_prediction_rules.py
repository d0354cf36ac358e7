"""The prediction rules as pure functions of an injected clock: the lock to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fanfare.predictions.rules import (
    Choice,
    Refusal,
    Round,
    RoundState,
    judge,
    next_change,
    parse_choice,
    state,
    tier,
)

LOCK = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
PICK = Round(id=1, kind="pick", option_ids=(11, 12, 13), locks_at=LOCK)


def test_one_millisecond_before_the_lock_is_accepted_and_at_the_lock_refused():
    assert judge(PICK, Choice(option_ids=(12,)), LOCK - MS) is None
    assert judge(PICK, Choice(option_ids=(12,)), LOCK) is Refusal.LOCKED
    assert judge(PICK, Choice(option_ids=(12,)), LOCK + MS) is Refusal.LOCKED
    assert state(PICK, LOCK - MS) is RoundState.OPEN and state(PICK, LOCK) is RoundState.LOCKED


def test_a_round_without_a_lock_time_accepts_nothing():
    never = Round(id=2, kind="pick", option_ids=(1, 2), locks_at=None)
    assert judge(never, Choice(option_ids=(1,)), LOCK) is Refusal.LOCKED


def test_suspensions_take_effect_at_their_exact_moment_and_reopen_likewise():
    start, end = LOCK - timedelta(minutes=10), LOCK - timedelta(minutes=5)
    suspended = Round(
        id=3, kind="pick", option_ids=(11, 12), locks_at=LOCK, changes=((start, True), (end, False))
    )
    choice = Choice(option_ids=(11,))
    assert judge(suspended, choice, start - MS) is None
    assert judge(suspended, choice, start) is Refusal.SUSPENDED
    assert judge(suspended, choice, end - MS) is Refusal.SUSPENDED
    assert judge(suspended, choice, end) is None
    assert next_change(suspended, start - MS) == start
    assert next_change(suspended, start) == end
    assert next_change(suspended, end) == LOCK
    assert next_change(suspended, LOCK) is None


def test_a_change_recorded_for_the_same_moment_later_wins():
    at = LOCK - timedelta(minutes=1)
    flipped = Round(
        id=4, kind="pick", option_ids=(1, 2), locks_at=LOCK, changes=((at, True), (at, False))
    )
    assert state(flipped, at) is RoundState.OPEN


def test_choices_must_fit_the_kind():
    top3 = Round(id=5, kind="top3", option_ids=(1, 2, 3, 4), locks_at=LOCK)
    now = LOCK - timedelta(hours=1)
    assert judge(top3, Choice(option_ids=(3, 1, 2)), now) is None
    assert judge(top3, Choice(option_ids=(1, 1, 2)), now) is Refusal.BAD_CHOICE
    assert judge(top3, Choice(option_ids=(1, 2)), now) is Refusal.BAD_CHOICE
    assert judge(top3, Choice(option_ids=(1, 2, 9)), now) is Refusal.BAD_CHOICE
    assert judge(PICK, Choice(option_ids=(99,)), now) is Refusal.BAD_CHOICE
    assert judge(PICK, None, now) is Refusal.BAD_CHOICE
    assert judge(None, Choice(option_ids=(1,)), now) is Refusal.UNKNOWN_ROUND
    number = Round(id=6, kind="number", option_ids=(), locks_at=LOCK)
    assert judge(number, parse_choice("number", [], " 1234.5 "), now) is None
    assert parse_choice("number", [], "lots") is None
    assert parse_choice("number", [], "NaN") is None
    assert parse_choice("pick", ["x"], None) is None
    assert parse_choice("number", [], "7") == Choice(number=Decimal(7))


def test_tiers_by_points():
    thresholds = {"bronze": 10, "silver": 50, "gold": 150}
    assert tier(0, **thresholds) is None
    assert tier(10, **thresholds) == "bronze"
    assert tier(149, **thresholds) == "silver"
    assert tier(150, **thresholds) == "gold"
