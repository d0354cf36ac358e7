"""The prediction rules, judged by a clock: pure functions, like votes/ballot.py.

A round accepts predictions on [.., locks_at) unless it is suspended at that moment. Its
suspensions are a list of changes, each effective at its own exact time, so a change recorded
now for a moment ahead needs no job to take effect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

KINDS = ("pick", "top3", "number")
TOP = 3


class RoundState(enum.StrEnum):
    """Where a round stands at a given moment."""

    OPEN = "open"
    SUSPENDED = "suspended"
    LOCKED = "locked"


class Refusal(enum.StrEnum):
    """Why a prediction is refused; web/fans/play.py words each for the fan."""

    UNKNOWN_ROUND = "unknown_round"
    LOCKED = "locked"
    SUSPENDED = "suspended"
    BAD_CHOICE = "bad_choice"


@dataclass(frozen=True, slots=True)
class Round:
    """What a prediction is judged against; `changes` are (at, suspended), oldest first."""

    id: int
    kind: str
    option_ids: tuple[int, ...]
    locks_at: datetime | None
    changes: tuple[tuple[datetime, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """A fan's prediction: option ids in order (pick: one, top3: three) or a number."""

    option_ids: tuple[int, ...] = ()
    number: Decimal | None = None


def suspended_at(changes: tuple[tuple[datetime, bool], ...], now: datetime) -> bool:
    """Whether the latest change at or before `now` is a suspension."""
    state = False
    for at, suspended in changes:
        if at > now:
            break
        state = suspended
    return state


def state(round_: Round, now: datetime) -> RoundState:
    """The round's state at `now`: locked from locks_at on, exactly."""
    if round_.locks_at is None or now >= round_.locks_at:
        return RoundState.LOCKED
    if suspended_at(round_.changes, now):
        return RoundState.SUSPENDED
    return RoundState.OPEN


def next_change(round_: Round, now: datetime) -> datetime | None:
    """The next moment the round's state may change by the clock, or None once locked."""
    if state(round_, now) is RoundState.LOCKED:
        return None
    ahead = [at for at, _ in round_.changes if at > now]
    return min([*ahead, round_.locks_at]) if round_.locks_at else None


def parse_choice(kind: str, option_ids: list[str], number: str | None) -> Choice | None:
    """A form's fields as a Choice of the round's kind, or None when malformed."""
    if kind == "number":
        try:
            value = Decimal((number or "").strip())
        except InvalidOperation:
            return None
        return Choice(number=value) if value.is_finite() and abs(value) < 10**12 else None
    try:
        ids = tuple(int(v) for v in option_ids if v != "")
    except ValueError:
        return None
    return Choice(option_ids=ids)


def judge(round_: Round | None, choice: Choice | None, now: datetime) -> Refusal | None:
    """None if the prediction is accepted at `now`, else why not."""
    if round_ is None:
        return Refusal.UNKNOWN_ROUND
    current = state(round_, now)
    if current is RoundState.LOCKED:
        return Refusal.LOCKED
    if current is RoundState.SUSPENDED:
        return Refusal.SUSPENDED
    if choice is None:
        return Refusal.BAD_CHOICE
    if round_.kind == "number":
        return None if choice.number is not None else Refusal.BAD_CHOICE
    wanted = 1 if round_.kind == "pick" else TOP
    ids = choice.option_ids
    if len(ids) != wanted or len(set(ids)) != wanted or not set(ids) <= set(round_.option_ids):
        return Refusal.BAD_CHOICE
    return None


def tier(points: int, *, bronze: int, silver: int, gold: int) -> str | None:
    """The fan's tier by points; None below bronze."""
    for name, threshold in (("gold", gold), ("silver", silver), ("bronze", bronze)):
        if points >= threshold:
            return name
    return None
