"""The voting rules, judged by the clock: shared by pages, ingest and the workers."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from datetime import datetime

import psycopg
import redis
from psycopg.rows import tuple_row

from fanfare.infra import sql

Q = sql.queries("ballot")


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


# The ballot: what a vote is judged against, loaded in one go so ingest can cache it and the
# worker can re-judge a whole batch with one query.


class Reason(enum.StrEnum):
    """Why a vote is refused or not counted; stored in votes.reject_reason."""

    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_NOMINEE = "unknown_nominee"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    OVER_QUOTA = "over_quota"


@dataclass(frozen=True, slots=True)
class Window:
    """One voting window of a category: open on [opens_at, closes_at)."""

    id: int
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True, slots=True)
class Rules:
    """A published category as the vote path needs it."""

    id: int
    slug: str
    name: str
    max_votes_per_voter: int
    windows: tuple[Window, ...]
    nominees: dict[int, str]  # published nominee id -> name


@dataclass(frozen=True, slots=True)
class Ballot:
    """Every published category with its windows and nominees."""

    categories: dict[int, Rules]
    # The published translations of the names, for answers in a page's language:
    # {language: {("category" | "nominee", id): name}}.
    names: dict[str, dict[tuple[str, int], str]] = field(default_factory=dict)

    def rules_in(self, category_id: int, language: str | None) -> Rules | None:
        """A category's rules with its names as fans read them in a language (None: default)."""
        rules = self.categories.get(category_id)
        # getattr: a shared copy pickled before `names` existed has no such slot.
        names = getattr(self, "names", {}).get(language or "", {})
        if rules is None or not names:
            return rules
        nominees = {nid: names.get(("nominee", nid), name) for nid, name in rules.nominees.items()}
        return replace(rules, name=names.get(("category", rules.id), rules.name), nominees=nominees)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of judging one vote: its window when valid, else the reason."""

    window: Window | None
    reason: Reason | None

    @property
    def valid(self) -> bool:
        return self.reason is None


def judge(ballot: Ballot, category_id: int, nominee_id: int, at: datetime) -> Verdict:
    """Judge a vote cast at `at`: known category and nominee, inside one of its windows."""
    rules = ballot.categories.get(category_id)
    if rules is None:
        return Verdict(None, Reason.UNKNOWN_CATEGORY)
    if nominee_id not in rules.nominees:
        return Verdict(None, Reason.UNKNOWN_NOMINEE)
    later = False
    for window in rules.windows:
        state = window_state(window.opens_at, window.closes_at, at)
        if state is WindowState.OPEN:
            return Verdict(window, None)
        later = later or state is WindowState.UPCOMING
    # No window at all counts as "not open": nothing has closed.
    closed = rules.windows and not later
    return Verdict(None, Reason.CLOSED if closed else Reason.NOT_OPEN)


def allowed_votes(used: int, asked: int, max_votes: int) -> int:
    """How many of `asked` new votes fit in the quota when `used` are already taken."""
    return max(0, min(asked, max_votes - used))


# The copy of the ballot that ingest processes share (ingest/ballot_cache.py, flask-caching on
# Redis). Anything that changes what fans can vote on drops it (content/after_publish.py).
SHARED_CACHE_PREFIX = "fanfare-cache:"
SHARED_CACHE_KEY = "ballot"


def forget_shared(client: redis.Redis) -> None:
    """Drop the shared copy: every ingest process reloads the ballot within a second."""
    client.delete(SHARED_CACHE_PREFIX + SHARED_CACHE_KEY)


def load_ballot(conn: psycopg.Connection) -> Ballot:
    """The ballot as PostgreSQL has it now, in four small queries."""
    cur = conn.cursor(row_factory=tuple_row)
    categories = cur.execute(Q.categories).fetchall()
    windows: dict[int, list[Window]] = {}
    for wid, category_id, opens_at, closes_at in cur.execute(Q.windows):
        windows.setdefault(category_id, []).append(Window(wid, opens_at, closes_at))
    nominees: dict[int, dict[int, str]] = {}
    for nid, category_id, name in cur.execute(Q.nominees):
        nominees.setdefault(category_id, {})[nid] = name
    names: dict[str, dict[tuple[str, int], str]] = {}
    for language, kind, target_id, name in cur.execute(Q.translated_names):
        names.setdefault(language, {})[(kind, target_id)] = name
    return Ballot(
        {
            cid: Rules(cid, slug, name, quota, tuple(windows.get(cid, ())), nominees.get(cid, {}))
            for cid, slug, name, quota in categories
        },
        names,
    )
