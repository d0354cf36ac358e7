"""The voting rules, judged by the clock: shared by pages, ingest and the workers."""

from __future__ import annotations

import enum
import math
from datetime import datetime


class WindowState(enum.StrEnum):
    """Where a voting window stands at a given moment."""

    NONE = "none"  # the category has no window at all
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


def window_state(
    opens_at: datetime | None, closes_at: datetime | None, now: datetime
) -> WindowState:
    """The state of a window at `now`; a window is open on [opens_at, closes_at)."""
    if opens_at is None or closes_at is None:
        return WindowState.NONE
    if now < opens_at:
        return WindowState.UPCOMING
    if now < closes_at:
        return WindowState.OPEN
    return WindowState.CLOSED


def next_transition(
    opens_at: datetime | None, closes_at: datetime | None, now: datetime
) -> datetime | None:
    """The next moment the window changes state, or None once it is final."""
    state = window_state(opens_at, closes_at, now)
    if state is WindowState.UPCOMING:
        return opens_at
    if state is WindowState.OPEN:
        return closes_at
    return None


def seconds_until(moment: datetime | None, now: datetime) -> float | None:
    """Whole seconds from now until moment (at least 0), or None for never."""
    if moment is None:
        return None
    return max(0.0, math.ceil((moment - now).total_seconds()))
