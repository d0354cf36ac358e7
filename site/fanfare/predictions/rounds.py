"""Prediction rounds in PostgreSQL: create, load for judging, suspend, enter and verify results.

Flask-free: the web app, the scheduler's job and the feed all use it. Every editor action is
audited in the same transaction as the change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.rows import tuple_row

from fanfare.content import audit
from fanfare.infra import sql
from fanfare.predictions.rules import KINDS, TOP, Round

Q = sql.queries("predictions")


def tuples(conn: psycopg.Connection, query: str, params: object = ()) -> list[tuple]:
    """Rows as tuples whatever the connection's row factory (the web pool's is dict_row)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()  # type: ignore[arg-type]


class RoundError(ValueError):
    """An editor's request that the rules forbid; the message is for the editor."""


def load(conn: psycopg.Connection, round_ids: list[int]) -> dict[int, Round]:
    """The judging state of these rounds, by id (missing ids are absent)."""
    found = {}
    for rid, kind, locks_at, option_ids, change_at, change_suspended in tuples(
        conn, Q.load_rounds, (round_ids,)
    ):
        found[rid] = Round(
            id=rid,
            kind=kind,
            option_ids=tuple(option_ids),
            locks_at=locks_at,
            changes=tuple(zip(change_at, change_suspended, strict=True)),
        )
    return found


def listed(conn: psycopg.Connection, event_id: int) -> list[dict]:
    """Every round of an event with its options and effective lock, soonest lock first."""
    return sql.rows(conn, Q.list_rounds, (event_id,))


def get(conn: psycopg.Connection, round_id: int) -> dict | None:
    """One round's row with its effective lock and options."""
    row = sql.one(conn, Q.round_event, (round_id,))
    if row is None:
        return None
    return next(r for r in listed(conn, row["event_id"]) if r["id"] == round_id)


def create(
    conn: psycopg.Connection,
    editor: dict,
    *,
    event_id: int,
    question: str,
    kind: str,
    points: int,
    options: list[tuple[str, int | None]],
    category_id: int | None = None,
    locks_at: datetime | None = None,
    lock_offset_seconds: int = 60,
) -> int:
    """A new round with its options, in order; audited."""
    if kind not in KINDS:
        raise RoundError("Choose a pick, a top 3 or a number.")
    if locks_at is None and category_id is None:
        raise RoundError("A round needs a lock time, or a category to lock before.")
    if kind != "number" and len(options) < (TOP if kind == "top3" else 2):
        raise RoundError("Give at least two options (three for a top 3).")
    ((rid,),) = tuples(
        conn,
        Q.create_round,
        (event_id, category_id, question, kind, points, locks_at, lock_offset_seconds),
    )
    with conn.cursor() as cur:
        cur.executemany(
            Q.create_option,
            [(rid, label, nominee, i) for i, (label, nominee) in enumerate(options)],
        )
    audit.record(conn, editor, "create", "prediction_round", rid, {"question": question})
    return rid


def record_change(
    conn: psycopg.Connection,
    round_id: int,
    *,
    at: datetime,
    suspended: bool,
    source: str,
    feed_seq: int | None = None,
) -> None:
    """A suspension or reopening, effective exactly at `at`."""
    conn.execute(Q.record_change, (round_id, at, suspended, source, feed_seq))


def set_suspended(
    conn: psycopg.Connection, editor: dict, round_id: int, suspended: bool, at: datetime
) -> None:
    """An editor suspends or reopens a round at once; audited."""
    record_change(conn, round_id, at=at, suspended=suspended, source="editor")
    action = "suspend" if suspended else "reopen"
    audit.record(conn, editor, action, "prediction_round", round_id, {"at": at.isoformat()})


def enter_result(
    conn: psycopg.Connection,
    editor: dict,
    round_id: int,
    *,
    option_ids: list[int] | None = None,
    number: Decimal | None = None,
    now: datetime,
) -> None:
    """The first pair of eyes: a result entered, not yet counting. Replaces an unverified one."""
    row = get(conn, round_id)
    if row is None:
        raise RoundError("No such round.")
    if row["result_verified_at"] is not None:
        raise RoundError("This result is already verified.")
    if row["effective_locks_at"] is None or now < row["effective_locks_at"]:
        raise RoundError("A result can be entered once the round has locked.")
    valid = {o["id"] for o in row["options"] or []}
    wanted = {"pick": 1, "top3": TOP}.get(row["kind"])
    if wanted is not None:
        ids = option_ids or []
        if len(ids) != wanted or len(set(ids)) != wanted or not set(ids) <= valid:
            raise RoundError("Choose the winning option(s), each once.")
    elif number is None:
        raise RoundError("Enter the number.")
    conn.execute(Q.enter_result, (option_ids if wanted else None, number, editor["id"], round_id))
    audit.record(
        conn, editor, "enter_result", "prediction_round", round_id,
        {"option_ids": option_ids, "number": str(number) if number is not None else None},
    )  # fmt: skip


def verify_result(conn: psycopg.Connection, editor: dict, round_id: int) -> None:
    """The second pair of eyes: a different editor confirms the entered result; audited."""
    row = get(conn, round_id)
    if row is None or row["result_entered_at"] is None:
        raise RoundError("There is no entered result to verify.")
    if row["result_verified_at"] is not None:
        raise RoundError("This result is already verified.")
    if row["result_entered_by"] == editor["id"]:
        raise RoundError("A different editor must verify the result you entered.")
    conn.execute(Q.verify_result, (editor["id"], round_id))
    audit.record(conn, editor, "verify_result", "prediction_round", round_id)
