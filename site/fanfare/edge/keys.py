"""Every surrogate key: what each cached page is tagged with, and what each change purges.

The one place that spells a key. Pages tag their responses with the `*_page` sets; the editor
area, the scheduler and the vote writer purge with the `*_changed` sets, so a tag and the purge
that must reach it can never drift apart. Framework-free: the workers import it.
"""

from __future__ import annotations

from collections.abc import Iterable

HOME = "home"
HISTORY = "history"
# The 404 cached at a URL where content may appear (a new page, or a page's new slug).
MISSING = "missing"


def event(event_id: int) -> str:
    """An event's own texts."""
    return f"event:{event_id}"


def category(category_id: int) -> str:
    """A category's texts, windows and nominee list."""
    return f"category:{category_id}"


def nominee(nominee_id: int) -> str:
    """A nominee's texts and photo."""
    return f"nominee:{nominee_id}"


def results(category_id: int) -> str:
    """A category's counts: every page that shows them, purged after each written batch."""
    return f"results:{category_id}"


# ---- what each page is tagged with ------------------------------------------------------------


def home_page(event_id: int | None, category_ids: Iterable[int]) -> list[str]:
    """The event home lists every category and where its vote stands."""
    if event_id is None:
        return [HOME]
    return [HOME, event(event_id), *map(category, category_ids)]


def category_page(category_id: int, nominee_ids: Iterable[int]) -> list[str]:
    """A category page embeds the results island, so the results purge refreshes it too."""
    return [category(category_id), results(category_id), *map(nominee, nominee_ids)]


def nominee_page(nominee_id: int, category_id: int) -> list[str]:
    """A nominee page shows its category's vote form."""
    return [nominee(nominee_id), category(category_id)]


def results_page(category_id: int) -> list[str]:
    """The results island and the no-JS results page."""
    return [results(category_id), category(category_id)]


def history_page(category_ids: Iterable[int]) -> list[str]:
    """Past winners, tagged by category only (a renamed nominee purges HISTORY)."""
    return [HISTORY, *map(category, category_ids)]


NOT_FOUND_PAGE = [MISSING]


def in_language(page_keys: Iterable[str], language: str) -> list[str]:
    """A page's keys, each also in its language ("nominee:7@es").

    Every language's copy carries the plain keys, so a change to the default text (which every
    language falls back to) purges them all; the language's own keys let a published
    translation purge exactly that language's copies (`translation_changed`).
    """
    plain = list(dict.fromkeys(page_keys))
    return [*plain, *(f"{key}@{language}" for key in plain)]


# ---- what each change purges ------------------------------------------------------------------


def content_changed(
    kind: str,
    row: dict,
    *,
    event_category_ids: Iterable[int] = (),
    appeared: bool = False,
    disappeared: bool = False,
    moved: bool = False,
    renamed: bool = False,
) -> set[str]:
    """The keys of every cached page that shows this event, category or nominee row.

    A page that lists a row carries that row's key, except when the row is new to it: then
    the page is reached through its parent's key (category page, home) or MISSING (the 404
    cached at the row's own URL, or at its new URL after a slug change). `event_category_ids`
    are an event's categories, whose pages are reached when the event appears or disappears.
    """
    listed = appeared or disappeared
    keys: set[str] = set()
    if kind == "nominee":
        keys |= {nominee(row["id"]), results(row["category_id"])}
        if listed:
            keys.add(category(row["category_id"]))
        if renamed or moved:
            keys.add(HISTORY)
    elif kind == "category":
        keys |= {category(row["id"]), results(row["id"])}
        if listed:
            keys |= {HOME, event(row["event_id"]), HISTORY}
    elif kind == "event":
        keys |= {event(row["id"]), HOME, HISTORY}
        if listed:
            keys |= set(map(category, event_category_ids))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if appeared or moved:
        keys.add(MISSING)
    return keys


def window_changed(category_id: int, event_id: int, *, closed: bool) -> set[str]:
    """A voting window opened or closed: the vote form, the states and, at a close, history."""
    keys = {HOME, event(event_id), category(category_id), results(category_id)}
    if closed:
        keys.add(HISTORY)
    return keys


def translation_changed(changed: Iterable[str], language: str) -> set[str]:
    """A translation was published: `changed` (a content_changed set) in its language."""
    return {f"{key}@{language}" for key in changed}


def counts_changed(category_ids: Iterable[int]) -> set[str]:
    """New votes were counted in these categories."""
    return set(map(results, category_ids))


def results_settled(category_id: int) -> set[str]:
    """Results turned final, gained a new root (an invalidation after final) or were revealed:
    every page that shows them or their winner."""
    return {results(category_id), category(category_id), HISTORY}


# ---- the prediction game (issue 17) ------------------------------------------------------------

LEADERBOARD = "leaderboard"
PREDICTIONS = "predictions"


def fan(public_id: str) -> str:
    """One fan's share card (their nickname and rank)."""
    return f"fan:{public_id}"


def predictions_page(event_id: int) -> list[str]:
    """The rounds of an event and their forms."""
    return [PREDICTIONS, event(event_id)]


def leaderboard_page(event_id: int | None = None) -> list[str]:
    """A leaderboard page: refreshed together with the materialized view; an event's board
    also shows the event's name."""
    return [LEADERBOARD] if event_id is None else [LEADERBOARD, event(event_id)]


def fan_card_page(public_id: str) -> list[str]:
    """A share card and its image show the fan's rank (the board) and nickname (the fan)."""
    return [LEADERBOARD, fan(public_id)]


def leaderboard_changed() -> set[str]:
    """The materialized view was refreshed."""
    return {LEADERBOARD}


def rounds_changed() -> set[str]:
    """A round was created, suspended, reopened or resolved."""
    return {PREDICTIONS, LEADERBOARD}


def fan_changed(public_id: str) -> set[str]:
    """A fan was renamed or deleted: their card, and the boards that show their nickname."""
    return {fan(public_id), LEADERBOARD}
